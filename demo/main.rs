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
    std::fs::write(ws.path().join("terraform.tfvars"), tfvars(&kubeconfig))
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
        println!(
            "\nCtrl-C: stopping the three emulated clusters and removing {} with its terraform state.",
            ws.path().display()
        );
        drop(sandbox);
        drop(ws);
        println!("Stopped and removed.");
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

/// The sandbox example's variables as the user's next commands leave them: each command repeats every choice made
/// before it, so that following them in order never undoes one (a patch upgrade typed after a scale-out must not
/// plan `replicas = 4 -> 3`).
#[derive(Clone, Debug, Default)]
struct Choices(Vec<(&'static str, String)>);

impl Choices {
    /// The choices with `name` set to `value` (replacing an earlier value), or unset with `None`.
    fn with(&self, name: &'static str, value: Option<&str>) -> Choices {
        let mut next: Vec<_> = self.0.iter().filter(|(n, _)| *n != name).cloned().collect();
        if let Some(value) = value {
            next.push((name, value.to_string()));
        }
        Choices(next)
    }

    /// `terraform <verb>` with every choice as a `-var`, quoted for a POSIX shell.
    fn command(&self, verb: &str) -> String {
        let mut line = format!("terraform {verb}");
        for (name, value) in &self.0 {
            line.push_str(&format!(" -var '{name}={value}'"));
        }
        line
    }
}

/// The patch release the printed upgrade moves to (the example's default image is v24.1.0).
const PATCH_IMAGE: &str = "cockroachdb/cockroach:v24.1.1";

/// The operations the demo suggests, in the order to run them, each as a comment and a command line: the outage
/// drill first (and back, before anything else), then a scale-out, then a patch upgrade, then teardown.
fn next_commands(drill_zone: &str) -> Vec<(String, String)> {
    let none = Choices::default();
    let drill = none.with("stopped_zones", Some(&format!("[\"{drill_zone}\"]")));
    let scaled = none.with("replicas", Some("4"));
    let upgraded = scaled.with("image", Some(PATCH_IMAGE));
    let unprotected = upgraded.with("deletion_protection", Some("false"));
    vec![
        ("no changes".into(), none.command("plan")),
        (
            format!("outage drill: {drill_zone} stopped, its data kept"),
            drill.command("apply"),
        ),
        (
            format!("bring {drill_zone} back before upgrading or scaling"),
            none.command("apply"),
        ),
        (
            "scale out: four nodes in every zone".into(),
            scaled.command("apply"),
        ),
        (
            "a patch upgrade, keeping the four nodes".into(),
            upgraded.command("apply"),
        ),
        (
            "teardown: protection off, then destroy".into(),
            unprotected.command("apply"),
        ),
        (String::new(), unprotected.command("destroy")),
    ]
}

/// The directory of the terraform the demo ran, absolute, for the PATH line it prints.
fn terraform_dir() -> String {
    let binary = harness::terraform_binary();
    let binary = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    binary
        .parent()
        .map_or_else(String::new, |dir| dir.display().to_string())
}

/// The variables file the demo writes beside its configuration: the kubeconfig, so that no printed command needs
/// it, and the defaults of what the commands change, to read (and edit, for those who prefer a file to `-var`).
fn tfvars(kubeconfig: &std::path::Path) -> String {
    format!(
        "# Written by the demo. The printed commands override these with -var; editing them here works as well.\n\
         kubeconfig          = \"{}\"\n\
         # replicas          = 3\n\
         # image             = \"cockroachdb/cockroach:v24.1.0\"\n\
         # stopped_zones     = []\n\
         # deletion_protection = true\n",
        kubeconfig.display()
    )
}

/// What a user types next to operate the cluster the demo made, in the demo's own working directory. Only what
/// the sandbox serves is printed: `kubectl port-forward` and `exec` are not emulated (crates/kube-sandbox/README.md).
fn print_next_steps(ws: &harness::Workspace, kubeconfig: &std::path::Path) {
    let dir = ws.path().display();
    let kubeconfig = kubeconfig.display();
    let (zone, _) = ZONES[1];
    let terraform = terraform_dir();
    let mut commands = String::new();
    for (comment, line) in next_commands(zone) {
        if !comment.is_empty() {
            commands.push_str(&format!("  # {comment}\n"));
        }
        commands.push_str(&format!("  {line}\n"));
    }
    println!(
        "
The sandbox keeps running until Ctrl-C, which stops the three emulated clusters (the CockroachDB cluster and all
its data go with them) and removes {dir} with its terraform state.

To operate the cluster, in another terminal, run these in order (each command repeats every earlier choice):

  export PATH=\"{terraform}:$PATH\"     # the project's terraform, as the demo used it
  cd {dir}                              # terraform.tfvars there names the kubeconfig
  export TF_CLI_CONFIG_FILE={dir}/cli.tfrc   # the locally built provider
  export KUBECONFIG={kubeconfig}             # one context per zone

{commands}
  kubectl --context {zone} -n {zone} get pods
  kubectl --context {zone} -n {zone} logs cockroachdb-0
  (kubectl port-forward and exec are not emulated by the sandbox.)"
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
    fn the_next_commands_never_undo_an_earlier_choice_and_drill_before_upgrading() {
        let commands = super::next_commands("us-west1-a");
        let lines: Vec<&str> = commands.iter().map(|(_, line)| line.as_str()).collect();
        let position = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {lines:?}"))
        };
        let drill = position("stopped_zones");
        let scale = position("replicas=4");
        let upgrade = position("image=cockroachdb/cockroach:v24.1.1");
        assert!(drill < scale && scale < upgrade, "{lines:?}");
        // The drill is undone by the very next command, before anything else.
        assert!(!lines[drill + 1].contains("stopped_zones"), "{lines:?}");
        assert!(commands[drill + 1].0.contains("back before upgrading"));
        // From the scale-out on, every command keeps four nodes; from the upgrade on, the new image.
        for line in &lines[scale..] {
            assert!(line.contains("-var 'replicas=4'"), "{line}");
        }
        for line in &lines[upgrade..] {
            assert!(
                line.contains("-var 'image=cockroachdb/cockroach:v24.1.1'"),
                "{line}"
            );
        }
        assert!(lines.last().unwrap().starts_with("terraform destroy"));
        assert!(lines.last().unwrap().contains("deletion_protection=false"));
        assert!(lines
            .iter()
            .all(|l| !l.contains("port-forward") && !l.contains("exec")));
    }

    #[test]
    fn a_choice_made_again_replaces_the_earlier_one() {
        let choices = super::Choices::default()
            .with("replicas", Some("4"))
            .with("replicas", Some("5"))
            .with("image", Some("x"));
        assert_eq!(
            choices.command("apply"),
            "terraform apply -var 'replicas=5' -var 'image=x'"
        );
        assert_eq!(
            choices.with("replicas", None).command("plan"),
            "terraform plan -var 'image=x'"
        );
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
