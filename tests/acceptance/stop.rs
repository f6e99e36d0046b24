//! One Ctrl-C stops every long operation within seconds, wherever it is (a rollout, a health gate, the CA
//! rotation's wait for the other zones, a certificate renewal, a decommission, a teardown), and the next run completes it in place with
//! at most one node down and no range unavailable.
use crate::certificates::{expiries, short_lived, sleep_until, stored_secret_file};
use crate::day2::{
    assert_never_unavailable, configuration_of, members, settle, three_settled_regions,
    with_replicas,
};
use crate::harness::{Run, Workspace};
use crate::regions::{configuration, live_nodes, Clusters, ZONES};
use std::time::{Duration, Instant};

/// How long terraform may take to exit after one Ctrl-C.
const STOPS_WITHIN: Duration = Duration::from_secs(10);

/// Runs terraform with `args` in its own process group and, once `at` holds, sends one SIGINT to the group as a
/// terminal's Ctrl-C does; asserts it exits, unsuccessfully, within [`STOPS_WITHIN`] of it.
fn ctrl_c_once(ws: &Workspace, args: &[&str], what: &str, mut at: impl FnMut() -> bool) -> Run {
    let mut run = std::os::unix::process::CommandExt::process_group(
        ws.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        0,
    )
    .spawn()
    .unwrap();
    let until = Instant::now() + Duration::from_secs(180);
    while !at() {
        if run.try_wait().unwrap().is_some() {
            let ended = Run::from(run.wait_with_output().unwrap());
            panic!(
                "{what} ended before its point:\n{}\n{}",
                ended.stderr, ended.stdout
            );
        }
        assert!(Instant::now() < until, "{what} never reached its point");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent_at = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", run.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let group = run.id();
    let stopped = Run::from(run.wait_with_output().unwrap());
    // Terraform's own process may end while a child (the provider, or the terraform that panicwrap runs) still
    // works on: stopped means every process of the group is gone.
    while group_alive(group) && sent_at.elapsed() <= STOPS_WITHIN {
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = sent_at.elapsed();
    eprintln!("{what}: terraform and the provider exited {took:?} after one Ctrl-C");

    assert!(
        took <= STOPS_WITHIN,
        "{what}: terraform took {took:?} to exit after one Ctrl-C:\n{}\n{}",
        stopped.stdout,
        stopped.stderr
    );
    assert_ne!(stopped.code, 0, "{what} finished before the Ctrl-C");
    stopped
}

/// Whether any process of process group `group` is still running.
fn group_alive(group: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", "--", &format!("-{group}")])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

const APPLY: [&str; 4] = ["apply", "-auto-approve", "-input=false", "-no-color"];

/// The node pods of a zone as the store holds them now: (uid, ready) by name.
fn node_pods(clusters: &Clusters, zone: &str) -> Vec<(String, bool)> {
    let Some(rt) = kube_sandbox::resources::resource_type("pods") else {
        return Vec::new();
    };
    let Some(cluster) = clusters.sandbox.cluster(zone) else {
        return Vec::new();
    };
    cluster
        .store()
        .list(rt, Some(zone))
        .iter()
        .filter(|pod| pod["metadata"]["labels"]["app.kubernetes.io/component"] == "database")
        .map(|pod| {
            let ready = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (
                pod["metadata"]["uid"].as_str().unwrap_or("").to_string(),
                ready,
            )
        })
        .collect()
}

fn trusts_two_cas(clusters: &Clusters, zone: &str) -> bool {
    stored_secret_file(clusters, zone, "cockroachdb.node", "ca.crt")
        .is_some_and(|ca| ca.matches("BEGIN CERTIFICATE").count() == 2)
}

/// Whether `zone` finished the rotation's first step: every node of it restarted, and ready, since its secret
/// came to trust both CAs. `restarted_since` keeps, per zone, the pods it ran when that was first seen.
fn finished_trusting_both(
    clusters: &Clusters,
    zone: &'static str,
    restarted_since: &mut std::collections::BTreeMap<&'static str, Vec<String>>,
) -> bool {
    let pods = node_pods(clusters, zone);
    match restarted_since.get(zone) {
        None => {
            if trusts_two_cas(clusters, zone) {
                restarted_since.insert(zone, pods.into_iter().map(|(uid, _)| uid).collect());
            }
            false
        }
        Some(before) => {
            pods.len() == 3
                && pods
                    .iter()
                    .all(|(uid, ready)| *ready && !before.contains(uid))
        }
    }
}

#[test]
fn one_ctrl_c_stops_a_ca_rotation_waiting_for_the_other_zones_and_the_next_apply_finishes_it() {
    let (clusters, ws, base) = three_settled_regions();

    let end = "  zones = [";
    ws.write_config(&base.replacen(end, &format!("  pki_generation = 2\n{end}"), 1));
    // Every call to the last zone's API server slowed down: the two others restart every node trusting both CAs
    // first, then wait at the rotation's barrier for it (after their health gate and lease release: a moment).
    let slow = ZONES[2];
    clusters
        .sandbox
        .set_latency(slow, Duration::from_millis(250))
        .unwrap();
    let mut restarted_since = std::collections::BTreeMap::new();
    let mut waiting_since = None;
    ctrl_c_once(&ws, &APPLY, "a CA rotation", || {
        if waiting_since.is_none()
            && ZONES[..2]
                .iter()
                .all(|zone| finished_trusting_both(&clusters, zone, &mut restarted_since))
        {
            waiting_since = Some(Instant::now());
        }
        waiting_since.is_some_and(|at| at.elapsed() >= Duration::from_secs(4))
    });
    assert!(
        !finished_trusting_both(&clusters, slow, &mut restarted_since),
        "{slow} had finished too: nothing was waiting for it"
    );
    clusters.sandbox.set_latency(slow, Duration::ZERO).unwrap();
    ws.apply();
    assert_never_unavailable(
        &clusters,
        "a CA rotation stopped by one Ctrl-C and finished",
    );
    assert_eq!(live_nodes(&clusters), (9, 9));
    for zone in ZONES {
        let ca = stored_secret_file(&clusters, zone, "cockroachdb.node", "ca.crt").unwrap();
        assert_eq!(
            ca.matches("BEGIN CERTIFICATE").count(),
            1,
            "{zone}: the new CA only"
        );
    }
    ws.assert_plan_empty("the finished CA rotation");
}

/// A certificate renewal is the rollout of an upgrade with new node certificates: stopped once a node of the first
/// zone restarted with its new certificate, while the last zone (slowed) has not begun, and finished in place.
#[test]
fn one_ctrl_c_stops_a_certificate_renewal_mid_rollout_and_the_next_apply_finishes_it() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&short_lived(&clusters, &ws, "4m", "3m"));
    ws.apply();
    settle(&clusters);
    let before = expiries(&ws);
    let latest = before.iter().map(|(_, at)| *at).max().unwrap();
    sleep_until(latest - time::Duration::minutes(3) + time::Duration::seconds(2));

    let slow = ZONES[2];
    clusters
        .sandbox
        .set_latency(slow, Duration::from_millis(250))
        .unwrap();
    let uids = |zone| -> Vec<String> {
        node_pods(&clusters, zone)
            .into_iter()
            .map(|(uid, _)| uid)
            .collect()
    };
    let first: Vec<String> = uids(ZONES[0]);
    let last: Vec<String> = uids(slow);
    ctrl_c_once(&ws, &APPLY, "a certificate renewal", || {
        uids(ZONES[0]).iter().any(|uid| !first.contains(uid))
    });
    assert_eq!(
        uids(slow),
        last,
        "{slow} had begun its renewal: the stop was not mid-rollout"
    );
    clusters.sandbox.set_latency(slow, Duration::ZERO).unwrap();
    ws.apply();
    assert_never_unavailable(
        &clusters,
        "a certificate renewal stopped by one Ctrl-C and finished",
    );
    assert_eq!(live_nodes(&clusters), (9, 9));
    for ((what, was), (_, now)) in before.iter().zip(expiries(&ws)) {
        assert!(now > *was, "{what}: not renewed ({was} -> {now})");
    }
    ws.assert_plan_empty("the finished renewal");
}

fn decommissioning(clusters: &Clusters) -> bool {
    use kube_sandbox::world::Membership;
    clusters
        .sandbox
        .world()
        .unwrap()
        .cockroach()
        .nodes()
        .iter()
        .any(|n| n.membership == Membership::Decommissioning)
}

#[test]
fn one_ctrl_c_stops_a_scale_down_mid_decommission_and_the_next_apply_finishes_it() {
    let (clusters, ws, base) = three_settled_regions();

    ws.write_config(&with_replicas(&base, ZONES[1], 2));
    ctrl_c_once(&ws, &APPLY, "a scale-down", || decommissioning(&clusters));
    ws.apply();
    assert_never_unavailable(&clusters, "a scale-down stopped by one Ctrl-C and finished");
    assert_eq!(members(&clusters), (8, 1), "the leaving node, and only it");
    ws.assert_plan_empty("the finished scale-down");
}

#[test]
fn one_ctrl_c_stops_a_region_removal_mid_decommission_and_the_next_apply_finishes_it() {
    // Four zones, so that the three left still hold every range's three replicas in three zones.
    let zones = [ZONES[0], ZONES[1], ZONES[2], "asia-east1-a"];
    let clusters = Clusters::start_zones(&zones);
    let ws = Workspace::new("");
    ws.write_config(&configuration_of(&clusters, &ws, &zones));
    ws.apply();
    settle(&clusters);

    ws.write_config(&configuration_of(&clusters, &ws, &ZONES));
    ctrl_c_once(&ws, &APPLY, "a region removal", || {
        decommissioning(&clusters)
    });
    ws.apply();
    assert_never_unavailable(
        &clusters,
        "a region removal stopped by one Ctrl-C and finished",
    );
    assert_eq!(
        members(&clusters),
        (9, 3),
        "the zone's three nodes, and only they"
    );
    ws.assert_plan_empty("the finished region removal");
}

/// A zone's namespace is being deleted or gone, as the store holds it now.
fn namespace_going(clusters: &Clusters, zone: &str) -> bool {
    let Some(rt) = kube_sandbox::resources::resource_type("namespaces") else {
        return false;
    };
    clusters
        .sandbox
        .cluster(zone)
        .and_then(|c| c.store().get(rt, None, zone))
        .is_none_or(|ns| !ns["metadata"]["deletionTimestamp"].is_null())
}

#[test]
fn one_ctrl_c_stops_a_destroy_and_the_next_destroy_finishes_it() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&configuration(&clusters, &ws, false, 1));
    ws.apply();
    let destroy = ["destroy", "-auto-approve", "-input=false", "-no-color"];
    ctrl_c_once(&ws, &destroy, "a destroy", || {
        ZONES.iter().any(|zone| namespace_going(&clusters, zone))
    });
    assert!(
        !ws.state().is_empty(),
        "the stopped destroy left its regions in state"
    );
    ws.destroy();
    for zone in ZONES {
        assert!(
            namespace_going(&clusters, zone),
            "{zone}'s namespace is deleted"
        );
    }
}
