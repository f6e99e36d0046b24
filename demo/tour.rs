//! `--tour`: the original procedure end to end on its own — deploy, the outage drill, scale, upgrade,
//! teardown — showing each step's plan summary, the nodes live per zone as they change, and what the sandbox's
//! availability recorder saw during the step. It passes only if every step held.
use crate::harness::Workspace;
use kube_sandbox::world::{Availability, World};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What a step may disturb.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Creating the cluster: nothing may be lost or unavailable once ranges exist.
    Deploy,
    /// Stopping or restarting a whole zone on purpose: its nodes are down together, but every range keeps a
    /// quorum in the other zones.
    Drill,
    /// An operation (scale, upgrade): at most one node down at a time, nothing unavailable, nothing lost.
    Operation,
}

/// Why a step did not hold, or `None` when it did.
pub fn judge(kind: Kind, seen: &Availability) -> Option<String> {
    let mut broken = Vec::new();
    if seen.unavailable_range_seconds > 0.0 {
        broken.push(format!(
            "{:.1} unavailable range-seconds",
            seen.unavailable_range_seconds
        ));
    }
    if seen.ranges_lost > 0 {
        broken.push(format!("{} ranges lost", seen.ranges_lost));
    }
    if kind == Kind::Operation && seen.max_nodes_down > 1 {
        broken.push(format!("{} nodes down at once", seen.max_nodes_down));
    }
    (!broken.is_empty()).then(|| broken.join(", "))
}

/// One step: its name, what it may disturb, and the `-var` arguments of its apply.
pub struct Step {
    pub name: &'static str,
    pub kind: Kind,
    pub vars: Vec<String>,
}

/// The procedure, in order. `zone` is the one the outage drill stops.
pub fn steps(zone: &str) -> Vec<Step> {
    let stopped = format!("stopped_zones=[\"{zone}\"]");
    let step = |name, kind, vars: &[&str]| Step {
        name,
        kind,
        vars: vars.iter().map(|v| v.to_string()).collect(),
    };
    vec![
        step("deploy", Kind::Deploy, &[]),
        step("outage drill: stop a zone", Kind::Drill, &[&stopped]),
        step("outage drill: bring it back", Kind::Drill, &[]),
        step(
            "scale every zone to 4 nodes",
            Kind::Operation,
            &["replicas=4"],
        ),
        step(
            "upgrade to v24.1.1",
            Kind::Operation,
            &["replicas=4", "image=cockroachdb/cockroach:v24.1.1"],
        ),
    ]
}

/// `Plan: 1 to add, 2 to change, 0 to destroy.` or `No changes.` from a plan's output.
pub fn plan_summary(stdout: &str) -> String {
    stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Plan:") || l.starts_with("No changes."))
        .unwrap_or("(no summary in the plan's output)")
        .to_string()
}

fn nodes_line(world: &World) -> String {
    let mut zones: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for node in world.cockroach().nodes() {
        if node.membership != kube_sandbox::world::Membership::Decommissioned {
            let entry = zones.entry(node.zone.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(node.live);
        }
    }
    if zones.is_empty() {
        return "no nodes".into();
    }
    zones
        .iter()
        .map(|(zone, (total, live))| format!("{zone} {live}/{total}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Runs `apply` while printing the nodes live per zone each time they change.
fn apply_watching(ws: &Workspace, world: &World, args: &[String]) -> crate::harness::Run {
    let done = AtomicBool::new(false);
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut last = String::new();
            while !done.load(Ordering::Relaxed) {
                let now = nodes_line(world);
                if now != last {
                    println!("    live: {now}");
                    last = now;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = ws.terraform(&args);
        done.store(true, Ordering::Relaxed);
        run
    });
    println!("    live after: {}", nodes_line(world));
    run
}

fn with_vars(command: &[&str], base: &[String], vars: &[String]) -> Vec<String> {
    let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
    for var in base.iter().chain(vars) {
        args.push("-var".into());
        args.push(var.clone());
    }
    args
}

/// Walks every step; Ok when all of them held, otherwise which did not.
pub fn tour(ws: &Workspace, world: &World, base_vars: &[String], zone: &str) -> Result<(), String> {
    let mut failed = Vec::new();
    let mut last_vars = Vec::new();
    for step in steps(zone) {
        crate::step(step.name);
        let plan = ws.terraform(
            &with_vars(
                &["plan", "-input=false", "-no-color"],
                base_vars,
                &step.vars,
            )
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        );
        println!("  {}", plan_summary(&plan.stdout));
        world.cockroach().reset_availability();
        let apply = apply_watching(
            ws,
            world,
            &with_vars(
                &["apply", "-auto-approve", "-input=false", "-no-color"],
                base_vars,
                &step.vars,
            ),
        );
        let seen = world.cockroach().availability();
        last_vars = step.vars.clone();
        println!("  {}", seen.line());
        if apply.code != 0 {
            println!(
                "  FAILED: terraform apply exited {}:\n{}",
                apply.code, apply.stderr
            );
            failed.push(step.name.to_string());
            break;
        }
        match judge(step.kind, &seen) {
            None => println!("  held"),
            Some(why) => {
                println!("  DID NOT HOLD: {why}");
                failed.push(format!("{} ({why})", step.name));
            }
        }
    }
    crate::step("teardown");
    // The last step's variables stay, so that lifting the protection changes nothing else (no downgrade).
    let mut unprotected = last_vars;
    unprotected.push("deletion_protection=false".to_string());
    for command in [
        &["apply", "-auto-approve", "-input=false", "-no-color"][..],
        &["destroy", "-auto-approve", "-input=false", "-no-color"][..],
    ] {
        let args = with_vars(command, base_vars, &unprotected);
        let run = apply_watching(ws, world, &args);
        if run.code != 0 {
            failed.push(format!("teardown ({} exited {})", command[0], run.code));
            println!("  FAILED:\n{}", run.stderr);
            break;
        }
    }
    if failed.is_empty() {
        println!("\nevery step held");
        Ok(())
    } else {
        Err(format!("steps that did not hold: {}", failed.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(unavailable: f64, down: u32, lost: u32) -> Availability {
        Availability {
            unavailable_range_seconds: unavailable,
            max_nodes_down: down,
            ranges_lost: lost,
            ..Availability::default()
        }
    }

    #[test]
    fn an_operation_holds_only_with_one_node_down_at_most_and_nothing_unavailable_or_lost() {
        assert_eq!(judge(Kind::Operation, &seen(0.0, 1, 0)), None);
        assert_eq!(
            judge(Kind::Operation, &seen(0.0, 2, 0)).as_deref(),
            Some("2 nodes down at once")
        );
        assert_eq!(
            judge(Kind::Operation, &seen(3.5, 1, 2)).as_deref(),
            Some("3.5 unavailable range-seconds, 2 ranges lost")
        );
    }

    #[test]
    fn a_drill_may_stop_a_zone_but_not_lose_availability() {
        assert_eq!(judge(Kind::Drill, &seen(0.0, 3, 0)), None);
        assert!(judge(Kind::Drill, &seen(0.1, 3, 0)).is_some());
        assert!(judge(Kind::Deploy, &seen(0.0, 0, 1)).is_some());
    }

    #[test]
    fn the_plan_summary_is_found_in_terraform_s_output() {
        let out = "  # crdb_region.zone[\"a\"] will be updated in-place\n\nPlan: 0 to add, 3 to change, 0 to destroy.\n";
        assert_eq!(
            plan_summary(out),
            "Plan: 0 to add, 3 to change, 0 to destroy."
        );
        assert_eq!(
            plan_summary("\nNo changes. Your infrastructure matches the configuration.\n"),
            "No changes. Your infrastructure matches the configuration."
        );
        assert_eq!(plan_summary(""), "(no summary in the plan's output)");
    }

    #[test]
    fn the_drill_stops_the_zone_it_is_given_and_every_step_names_its_vars() {
        let steps = steps("us-west1-a");
        assert_eq!(steps[1].vars, ["stopped_zones=[\"us-west1-a\"]"]);
        assert!(steps[2].vars.is_empty());
        assert_eq!(steps[4].kind, Kind::Operation);
    }
}
