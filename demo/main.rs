//! The main job: starts three emulated Kubernetes clusters (kube-sandbox), applies
//! `examples/terraform/sandbox` through the real terraform CLI and the freshly built provider,
//! and shows the CockroachDB cluster it made: regions, DNS addresses, nodes live. Then it keeps
//! the sandbox running until interrupted. With `--check` it verifies every node is live and the
//! plan is empty, destroys everything, verifies nothing is left, and exits 0 only if all of it
//! worked. With `--tour` it walks the procedure on its own (`tour.rs`).
#[path = "../tests/acceptance/harness.rs"]
#[allow(dead_code)]
mod harness;
mod tour;

use kube_sandbox::{Sandbox, SandboxOptions};
use std::collections::BTreeMap;
use std::process::ExitCode;

const ZONES: [(&str, &str); 3] = [
    ("us-east1-b", "kube-dns"),
    ("us-west1-a", "coredns"),
    ("europe-west1-c", "kube-dns"),
];

fn step(what: &str) {
    println!("\n== {what}");
}

fn run(ws: &harness::Workspace, args: &[&str]) -> Result<harness::Run, String> {
    let run = ws.terraform(args);
    if run.code != 0 {
        return Err(format!(
            "terraform {} failed:\n{}\n{}",
            args[0], run.stdout, run.stderr
        ));
    }
    Ok(run)
}

fn nodes_by_zone(sandbox: &Sandbox) -> BTreeMap<String, (usize, usize)> {
    let mut zones = BTreeMap::new();
    for node in sandbox
        .world()
        .expect("controllers run")
        .cockroach()
        .nodes()
    {
        let entry = zones.entry(node.zone.clone()).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += usize::from(node.live);
    }
    zones
}

/// What the demo does once its clusters run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Deploy, show, run until Ctrl-C.
    Show,
    /// Deploy, verify, destroy, verify.
    Check,
    /// Walk the whole procedure, judging each step.
    Tour,
}

fn demo(mode: Mode, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    step("starting three emulated Kubernetes clusters");
    let mut options = SandboxOptions::new(&ZONES.map(|(zone, _)| zone));
    for (cluster, (_, dns)) in options.clusters.iter_mut().zip(ZONES) {
        cluster.dns = dns.to_string();
    }
    options.speed = 20.0;
    options.controllers = true;
    let sandbox = runtime
        .block_on(Sandbox::start(options))
        .map_err(|e| format!("sandbox: {e}"))?;
    for cluster in sandbox.clusters() {
        println!("  {} at {}", cluster.name, cluster.url());
    }

    let config =
        std::fs::read_to_string("examples/terraform/sandbox/main.tf").map_err(|e| e.to_string())?;
    let ws = harness::Workspace::new("");
    std::fs::write(ws.path().join("main.tf"), config).map_err(|e| e.to_string())?;
    let kubeconfig = ws.path().join("sandbox.kubeconfig");
    sandbox
        .write_kubeconfig(&kubeconfig)
        .map_err(|e| e.to_string())?;
    let var = format!("kubeconfig={}", kubeconfig.display());
    if mode == Mode::Tour {
        let world = sandbox.world().expect("controllers run");
        let toured = tour::tour(&ws, world, &[var], ZONES[1].0);
        let left = zone_namespaces_left(&sandbox);
        println!("  zone namespaces left after teardown: {left}");
        return match (toured, left) {
            (Ok(()), 0) => Ok(()),
            (Ok(()), left) => Err(format!("{left} zone namespaces are left after teardown")),
            (Err(why), _) => Err(why),
        };
    }
    let check = mode == Mode::Check;

    step("terraform apply");
    let started = std::time::Instant::now();
    let applied = run(
        &ws,
        &[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            &var,
        ],
    )?;
    for line in applied
        .stdout
        .lines()
        .filter(|l| l.contains("Creation complete") || l.starts_with("Apply complete"))
    {
        println!("  {line}");
    }
    println!("  ({:.1} s)", started.elapsed().as_secs_f64());

    step("the CockroachDB cluster");
    let outputs = run(&ws, &["output", "-json"])?;
    let outputs: serde_json::Value =
        serde_json::from_str(&outputs.stdout).map_err(|e| e.to_string())?;
    println!("  version {}", outputs["version"]["value"]);
    let nodes = nodes_by_zone(&sandbox);
    for (zone, _) in ZONES {
        let (total, live) = nodes.get(zone).copied().unwrap_or_default();
        println!(
            "  {zone:<15} dns {:<16} {:<9} nodes live {live}/{total}",
            outputs["dns_addresses"]["value"][zone]
                .as_str()
                .unwrap_or("?"),
            outputs["dns_providers"]["value"][zone]
                .as_str()
                .unwrap_or("?"),
        );
    }
    let world = sandbox.world().expect("controllers run");
    println!("  initialised: {}", world.cockroach().initialised());

    let plan = ws.terraform(&[
        "plan",
        "-detailed-exitcode",
        "-input=false",
        "-no-color",
        "-var",
        &var,
    ]);
    println!(
        "  plan after apply: {}",
        if plan.code == 0 {
            "no changes"
        } else {
            "CHANGES (unexpected)"
        }
    );

    if !check {
        print_next_steps(&ws, &kubeconfig);
        runtime
            .block_on(tokio::signal::ctrl_c())
            .map_err(|e| e.to_string())?;
        return Ok(());
    }

    let all_live = nodes.values().map(|(_, live)| live).sum::<usize>();
    if all_live != 9 || !world.cockroach().initialised() {
        return Err(format!(
            "expected 9 live nodes in an initialised cluster, found {all_live}"
        ));
    }
    if plan.code != 0 {
        return Err(format!(
            "the plan after apply is not empty:\n{}",
            plan.stdout
        ));
    }
    step("terraform destroy");
    let unprotected = "deletion_protection=false";
    run(
        &ws,
        &[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            &var,
            "-var",
            unprotected,
        ],
    )?;
    run(
        &ws,
        &[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            &var,
            "-var",
            unprotected,
        ],
    )?;
    let left = zone_namespaces_left(&sandbox);
    if left != 0 {
        return Err(format!("{left} zone namespaces are left after destroy"));
    }
    println!("  every zone namespace is gone");
    println!("\ndemo check passed");
    Ok(())
}

/// How many zone namespaces are still in the clusters.
fn zone_namespaces_left(sandbox: &Sandbox) -> usize {
    sandbox
        .clusters()
        .iter()
        .flat_map(|c| {
            c.store().list(
                kube_sandbox::resources::resource_type("namespaces").unwrap(),
                None,
            )
        })
        .filter(|ns| {
            ZONES
                .iter()
                .any(|(zone, _)| ns["metadata"]["name"] == *zone)
        })
        .count()
}

/// What a user types next to operate the cluster the demo made, in the demo's own working directory.
fn print_next_steps(ws: &harness::Workspace, kubeconfig: &std::path::Path) {
    let dir = ws.path().display();
    let kubeconfig = kubeconfig.display();
    let (zone, _) = ZONES[1];
    println!(
        "
The sandbox keeps running until Ctrl-C. To operate the cluster, in another terminal:

  cd {dir}
  export TF_CLI_CONFIG_FILE={dir}/cli.tfrc   # the locally built provider
  export TF_VAR_kubeconfig={kubeconfig}
  export KUBECONFIG={kubeconfig}             # one context per zone

  terraform plan                                                   # no changes
  terraform apply -var replicas=4                                  # scale out every zone
  terraform apply -var image=cockroachdb/cockroach:v24.1.1         # a patch upgrade
  terraform apply -var 'stopped_zones=[\"{zone}\"]'                 # outage drill: {zone} down, data kept
  terraform apply                                                  # ... and back
  terraform apply -var deletion_protection=false && terraform destroy -var deletion_protection=false

  kubectl --context {zone} -n {zone} get pods
  kubectl --context {zone} -n {zone} logs cockroachdb-0"
    );
}

const USAGE: &str = "usage: scripts/demo.sh [--check | --tour]
  (no option)  deploy three emulated clusters and one CockroachDB cluster, show it, run until Ctrl-C
  --check      deploy, verify every node is live and the plan empty, destroy, verify nothing is left
  --tour       deploy, outage drill, scale, upgrade, teardown on their own, with each step's plan, nodes live
               per zone and availability; exit 0 only if every step held";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Invocation {
    Demo(Mode),
    Help,
    Unknown(String),
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Invocation {
    let mut mode = Mode::Show;
    for arg in args {
        match (arg.as_str(), mode) {
            ("--check", Mode::Show) => mode = Mode::Check,
            ("--tour", Mode::Show) => mode = Mode::Tour,
            ("-h" | "--help", _) => return Invocation::Help,
            _ => return Invocation::Unknown(arg),
        }
    }
    Invocation::Demo(mode)
}

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Invocation::Demo(mode) => mode,
        Invocation::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Invocation::Unknown(option) => {
            eprintln!("demo: unknown option {option:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match demo(mode, &runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("demo failed: {why}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_args, Invocation, Mode};

    fn parse(args: &[&str]) -> Invocation {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn options_it_does_not_know_are_refused_not_ignored() {
        assert_eq!(parse(&[]), Invocation::Demo(Mode::Show));
        assert_eq!(parse(&["--check"]), Invocation::Demo(Mode::Check));
        assert_eq!(parse(&["--tour"]), Invocation::Demo(Mode::Tour));
        assert_eq!(
            parse(&["--tour", "--check"]),
            Invocation::Unknown("--check".into())
        );
        assert_eq!(parse(&["--help"]), Invocation::Help);
        assert_eq!(parse(&["--tuor"]), Invocation::Unknown("--tuor".into()));
        assert_eq!(
            parse(&["--check", "extra"]),
            Invocation::Unknown("extra".into())
        );
    }
}
