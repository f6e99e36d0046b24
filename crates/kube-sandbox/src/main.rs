//! `kube-sandbox`: serves emulated Kubernetes clusters until SIGINT/SIGTERM.

use kube_sandbox::{cli, Sandbox};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match cli::parse(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let sandbox = match Sandbox::start(cli.options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kube-sandbox: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = sandbox.write_kubeconfig(&cli.kubeconfig) {
        eprintln!("kube-sandbox: writing {}: {e}", cli.kubeconfig.display());
        std::process::exit(1);
    }
    for c in sandbox.clusters() {
        println!(
            "cluster {} ready at {} (context {}, dns {})",
            c.name,
            c.url(),
            c.name,
            c.dns
        );
    }
    if let Some(addr) = sandbox.lb_dns_addr() {
        println!("load balancer host names resolve through the DNS server at {addr}");
    }
    println!(
        "all {} clusters ready in {} ms; kubeconfig {}",
        sandbox.clusters().len(),
        sandbox.started_in.as_millis(),
        cli.kubeconfig.display()
    );
    // SIGUSR1 prints the availability record on demand (as `/sandbox/availability` serves it); stopping prints
    // it once more.
    let availability = || {
        if let Some(world) = sandbox.world() {
            println!("{}", world.cockroach().availability().line());
        }
    };
    wait_for_signal(availability).await;
    availability();
    println!("kube-sandbox: stopping");
}

async fn wait_for_signal(on_usr1: impl Fn()) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut usr1 = signal(SignalKind::user_defined1()).expect("SIGUSR1 handler");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = usr1.recv() => on_usr1(),
        }
    }
}
