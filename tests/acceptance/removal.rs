//! Taking nodes away judged by the cluster's own replication factor and the zones left, before anything is
//! touched; and a whole deployment destroyed with less parallelism than it has regions.
use crate::day2::{
    assert_never_unavailable, members, most_decommissioned_during_destroy, settle, with_image,
    with_replicas,
};
use crate::harness::Workspace;
use crate::regions::{configuration, Clusters, ZONES};
use std::time::Duration;

#[test]
fn a_scale_down_is_judged_by_the_replication_factor_the_cluster_has() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let world = clusters.sandbox.world().unwrap();
    let ws = Workspace::new("");
    let base = with_image(&configuration(&clusters, &ws, false, 2), "v24.1.0", "auto");
    ws.write_config(&base);
    ws.apply();
    settle(&clusters);
    // The operator keeps five replicas of every range (ALTER RANGE default CONFIGURE ZONE USING num_replicas = 5).
    let ca = world.cockroach().clusters().remove(0).ca;
    world
        .cockroach()
        .with(&ca, |c, now| c.configure_default_zone(5, now))
        .unwrap()
        .unwrap();
    settle(&clusters);

    // Six nodes to five: every range keeps five replicas.
    let one = with_replicas(&base, ZONES[0], 1);
    ws.write_config(&one);
    ws.apply();
    assert_never_unavailable(&clusters, "a scale-down to five nodes of five replicas");
    assert_eq!(members(&clusters), (5, 1));

    // Five to four would leave ranges of five replicas nowhere to keep them: refused before anything is touched,
    // where three replicas (the default) would have fitted.
    settle(&clusters);
    ws.write_config(&with_replicas(&one, ZONES[1], 1));
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = run.said();
    assert!(
        said.contains(&format!("Zone {} cannot scale down to 1 node(s)", ZONES[1])),
        "{said}"
    );
    assert!(
        said.contains("4 live node(s) would stay, fewer than the 5 replicas"),
        "{said}"
    );
    assert_eq!(members(&clusters), (5, 1), "nothing was decommissioned");
    assert_never_unavailable(&clusters, "a refused scale-down");
}

#[test]
fn a_destroy_with_less_parallelism_than_regions_is_refused_untouched_then_a_whole_destroy_decommissions_nothing(
) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&with_image(
        &configuration(&clusters, &ws, false, 3),
        "v24.1.0",
        "auto",
    ));
    ws.apply();
    settle(&clusters);

    // One region at a time: the first one deleted cannot tell a teardown from a zone leaving a cluster that
    // stays, and two zones left would not keep one replica per zone.
    let run = ws.terraform(&[
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=1",
    ]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = run.said();
    assert!(said.contains("cannot leave the running cluster"), "{said}");
    assert!(
        said.contains("the nodes left would be in 2 zone(s), fewer than the 3 replicas"),
        "{said}"
    );
    assert!(said.contains("-parallelism"), "{said}");
    assert_eq!(
        members(&clusters),
        (9, 0),
        "no node was decommissioned or stopped"
    );
    assert_never_unavailable(&clusters, "a refused one-at-a-time destroy");

    // With Terraform's default parallelism every region is deleted at once: torn down without decommissioning.
    assert_eq!(
        most_decommissioned_during_destroy(&clusters, &ws),
        0,
        "the whole teardown decommissioned no node"
    );
}

#[test]
fn a_single_zone_cluster_scaled_below_three_nodes_is_refused_at_plan() {
    use crate::day2::configuration_of;
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let three = configuration_of(&clusters, &ws, &ZONES[..1]);
    ws.write_config(&three);
    ws.apply();
    ws.write_config(&three.replace("replicas = 3", "replicas = 2"));
    let run = ws.terraform(&["plan", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = run.said();
    assert!(
        said.contains("Scale-down below the replication factor"),
        "{said}"
    );
    assert!(said.contains("from 3 to 2 node(s)"), "{said}");
}

/// A scale-down whose run was killed mid-decommission (provider and all, holding the database's lease) resumes on
/// the next apply once the lease expired: the same nodes, one at a time, nothing unavailable.
#[test]
fn a_scale_down_killed_mid_decommission_resumes_on_the_next_apply() {
    use kube_sandbox::world::Membership;
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let world = clusters.sandbox.world().unwrap();
    let ws = Workspace::new("");
    let base = with_image(&configuration(&clusters, &ws, false, 3), "v24.1.0", "auto");
    ws.write_config(&base);
    ws.apply();
    settle(&clusters);

    ws.write_config(&with_replicas(&base, ZONES[0], 1));
    let apply = std::os::unix::process::CommandExt::process_group(
        ws.command(&["apply", "-auto-approve", "-input=false", "-no-color"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        0,
    )
    .spawn()
    .unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while !world
        .cockroach()
        .nodes()
        .iter()
        .any(|n| n.membership == Membership::Decommissioning)
    {
        assert!(std::time::Instant::now() < until, "no decommission started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", apply.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let killed = crate::harness::Run::from(apply.wait_with_output().unwrap());
    assert_ne!(killed.code, 0, "{}", killed.stdout);

    ws.apply();
    assert_never_unavailable(&clusters, "a scale-down killed and resumed");
    assert_eq!(
        members(&clusters),
        (7, 2),
        "the two leaving nodes, and only they"
    );
    ws.assert_plan_empty("the resumed scale-down");
}
