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
    wait_for_signal().await;
    println!("kube-sandbox: stopping");
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
