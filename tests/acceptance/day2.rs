//! Day-2 operations through the real CLI, held to what the availability recorder saw: no range unavailable for
//! a moment, at most one node down or decommissioning at once across the whole CockroachDB cluster, nothing lost,
//! while Terraform applies the three regions in parallel.
pub use crate::clusters::configuration_of;
use crate::harness::{await_value, Workspace};
use crate::regions::{configuration, live_nodes, Clusters, ZONES};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube_sandbox::world::Availability;
use std::time::{Duration, Instant};

const IMAGE_LINE: &str = "  image = \"cockroachdb/cockroach:v24.1.0\"\n";

pub fn with_image(config: &str, tag: &str, finalization: &str) -> String {
    assert!(config.contains(IMAGE_LINE));
    config.replacen(
        IMAGE_LINE,
        &format!("  image = \"cockroachdb/cockroach:{tag}\"\n  upgrade_finalization = \"{finalization}\"\n"),
        1,
    )
}

/// Waits until every range is fully replicated again, then starts a new recording window.
pub fn settle(clusters: &Clusters) {
    settle_world(clusters.sandbox.world().unwrap());
}

/// [`settle`] for the emulated CockroachDB of any sandbox (attached ones too).
pub fn settle_world(world: &kube_sandbox::world::World) {
    let cockroach = world.cockroach();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        cockroach.reset_availability();
        std::thread::sleep(Duration::from_millis(300));
        let seen = cockroach.availability();
        if seen.under_replicated_range_seconds == 0.0 && seen.max_nodes_down == 0 {
            cockroach.reset_availability();
            return;
        }
        assert!(
            Instant::now() < until,
            "the cluster never settled: {seen:?}"
        );
    }
}

/// Three regions of three nodes, applied, every range fully replicated: the configuration applied.
pub fn three_settled_regions() -> (Clusters, Workspace, String) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, false, 3);
    ws.write_config(&base);
    ws.apply();
    settle(&clusters);
    (clusters, ws, base)
}

/// What the recorder saw since the last `settle`, asserted: never unavailable, one node down at most, nothing lost.
pub fn assert_never_unavailable(clusters: &Clusters, what: &str) -> Availability {
    let seen = clusters.sandbox.world().unwrap().cockroach().availability();
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{what}: {seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{what}: {seen:?}");
    assert!(seen.max_nodes_down <= 1, "{what}: {seen:?}");
    assert!(
        seen.max_nodes_disrupted <= 1,
        "{what}: at most one node down or decommissioning at once: {seen:?}"
    );
    eprintln!("{what}: {seen:?}");
    seen
}

/// Every node pod of every zone.
fn node_pods(clusters: &Clusters) -> Vec<Pod> {
    let mut all = Vec::new();
    for zone in ZONES {
        let api: Api<Pod> = Api::namespaced(clusters.client(zone), zone);
        let pods = clusters
            .runtime
            .block_on(
                api.list(&ListParams::default().labels("app.kubernetes.io/component=database")),
            )
            .unwrap();
        all.extend(pods);
    }
    all
}

/// The names of the Jobs in the zones' namespaces.
pub fn job_names(clusters: &Clusters) -> Vec<String> {
    let mut names = Vec::new();
    for zone in ZONES {
        let api: Api<Job> = Api::namespaced(clusters.client(zone), zone);
        let jobs = clusters
            .runtime
            .block_on(api.list(&ListParams::default()))
            .unwrap();
        names.extend(jobs.into_iter().filter_map(|job| job.metadata.name));
    }
    names
}

/// Whether a Job is one releasing the database's disruption lease: a rollout does not wait for it to end, and it
/// removes itself once finished.
pub fn is_lease_release(job: &str) -> bool {
    job.starts_with("cockroachdb-disruption-lease-release-")
}

/// Destroys everything while watching the cluster: the most nodes ever seen decommissioned meanwhile (the
/// cluster's nodes are gone with it, so it is watched while the destroy runs).
pub fn most_decommissioned_during_destroy(clusters: &Clusters, ws: &Workspace) -> usize {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let most = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(members(clusters).1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        ws.destroy();
        done.store(true, Ordering::SeqCst);
    });
    most.into_inner()
}

/// The node pods' images, per pod.
pub fn images(clusters: &Clusters) -> Vec<(String, String)> {
    node_pods(clusters)
        .into_iter()
        .map(|pod| {
            let image = pod.spec.unwrap().containers[0]
                .image
                .clone()
                .unwrap_or_default();
            (pod.metadata.name.unwrap_or_default(), image)
        })
        .collect()
}

/// The node pods' memory limits, per pod.
fn memory_limits(clusters: &Clusters) -> Vec<(String, String)> {
    node_pods(clusters)
        .into_iter()
        .map(|pod| {
            let limit = pod.spec.unwrap().containers[0]
                .resources
                .as_ref()
                .and_then(|r| r.limits.as_ref()?.get("memory").cloned())
                .map(|q| q.0)
                .unwrap_or_default();
            (pod.metadata.name.unwrap_or_default(), limit)
        })
        .collect()
}

fn assert_every_pod_runs(clusters: &Clusters, tag: &str) {
    let images = images(clusters);
    assert_eq!(images.len(), 9, "{images:?}");
    assert!(
        images.iter().all(|(_, image)| image.ends_with(tag)),
        "every pod runs {tag}: {images:?}"
    );
    assert_eq!(live_nodes(clusters), (9, 9));
}

#[test]
fn a_patch_upgrade_a_requests_change_and_a_limits_change_restart_one_node_at_a_time_with_no_range_unavailable(
) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, false, 3);
    ws.write_config(&with_image(&base, "v24.1.0", "auto"));
    ws.apply();
    // Each change restarts every node, one at a time, and leaves nothing to plan.
    let rolled = |config: &str, what: &str| {
        settle(&clusters);
        ws.write_config(config);
        ws.apply();
        let seen = assert_never_unavailable(&clusters, what);
        assert_eq!(
            seen.max_nodes_down, 1,
            "{what}: nodes did restart: {seen:?}"
        );
        ws.assert_plan_empty(what);
    };

    let patched = with_image(&base, "v24.1.26", "auto");
    rolled(&patched, "the patch upgrade");
    assert_every_pod_runs(&clusters, "v24.1.26");

    let requests = patched.replace(
        "  replicas            = 3\n",
        "  replicas            = 3\n  cpu_request         = \"500m\"\n  memory_request      = \"1Gi\"\n",
    );
    rolled(&requests, "the requests change");

    let limits = requests.replace(
        "  memory_request      = \"1Gi\"\n",
        "  memory_request      = \"1Gi\"\n  cpu_limit           = \"1\"\n  memory_limit        = \"4Gi\"\n",
    );
    rolled(&limits, "the limits change");
    let limits = memory_limits(&clusters);
    assert_eq!(limits.len(), 9, "{limits:?}");
    assert!(
        limits.iter().all(|(_, limit)| limit == "4Gi"),
        "every node runs with the new limit: {limits:?}"
    );
}

#[test]
fn an_unpullable_image_stops_the_rollout_at_its_first_node_and_reverting_repairs_it_one_node_at_a_time(
) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, false, 3);
    ws.write_config(&with_image(&base, "v24.1.0", "auto"));
    ws.apply();
    settle(&clusters);

    // A tag no registry has: the first node restarted cannot pull it.
    ws.write_config(&with_image(&base, "v24.1.27", "auto"));
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("did not come back"), "{said}");
    assert!(
        said.contains("ImagePull") || said.contains("ErrImagePull"),
        "{said}"
    );
    let bad: Vec<_> = images(&clusters)
        .into_iter()
        .filter(|(_, image)| image.ends_with("v24.1.27"))
        .collect();
    assert_eq!(bad.len(), 1, "exactly one node was touched: {bad:?}");
    assert!(
        said.contains(&format!("Node {}", bad[0].0)),
        "the diagnostic names the node: {said}"
    );
    let seen = assert_never_unavailable(&clusters, "bad image");
    assert_eq!(seen.max_nodes_down, 1);

    ws.write_config(&with_image(&base, "v24.1.0", "auto"));
    ws.apply();
    assert_never_unavailable(&clusters, "bad image then revert");
    assert_every_pod_runs(&clusters, "v24.1.0");
    ws.assert_plan_empty("the revert");
}

#[test]
fn a_major_upgrade_rolls_one_node_at_a_time_and_finalizes_only_after_every_node_runs_it() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let world = clusters.sandbox.world().unwrap();
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, false, 3);
    ws.write_config(&with_image(&base, "v24.1.0", "manual"));
    ws.apply();
    settle(&clusters);

    ws.write_config(&with_image(&base, "v24.3.0", "manual"));
    ws.apply();
    assert_never_unavailable(&clusters, "manual major upgrade");
    assert_every_pod_runs(&clusters, "v24.3.0");
    let status = world.cockroach().clusters().remove(0);
    assert_eq!(status.version.as_deref(), Some("24.1"), "held open");

    settle(&clusters);
    ws.write_config(&with_image(&base, "v24.3.0", "auto"));
    ws.apply();
    assert_never_unavailable(&clusters, "finalizing");
    assert_eq!(
        world.cockroach().clusters().remove(0).version.as_deref(),
        Some("24.3")
    );

    // Automatic: the cluster finalizes by itself once every node of every region runs the new major.
    settle(&clusters);
    ws.write_config(&with_image(&base, "v25.2.0", "auto"));
    ws.apply();
    assert_never_unavailable(&clusters, "auto major upgrade");
    assert_every_pod_runs(&clusters, "v25.2.0");
    let status = world.cockroach().clusters().remove(0);
    assert_eq!(status.version.as_deref(), Some("25.2"));
    ws.assert_plan_empty("the auto major upgrade");
}

/// Nodes per membership: (active and live, decommissioned).
pub fn members(clusters: &Clusters) -> (usize, usize) {
    members_of(clusters.sandbox.world().unwrap())
}

/// [`members`] of the emulated CockroachDB of any sandbox (attached ones too).
pub fn members_of(world: &kube_sandbox::world::World) -> (usize, usize) {
    use kube_sandbox::world::Membership;
    let nodes = world.cockroach().nodes();
    (
        nodes
            .iter()
            .filter(|n| n.live && n.membership == Membership::Active)
            .count(),
        nodes
            .iter()
            .filter(|n| n.membership == Membership::Decommissioned)
            .count(),
    )
}

/// `config` with `replicas` nodes in `zone`, whatever the alignment of its `replicas =` line (`configuration`'s
/// or `configuration_of`'s).
pub fn with_replicas(config: &str, zone: &str, replicas: u32) -> String {
    let block = format!("resource \"crdb_region\" \"{}\" {{", zone.replace('-', "_"));
    let at = config.find(&block).unwrap();
    let line = config[at..].find("\n  replicas ").unwrap() + at;
    let value = config[line..].find("= ").unwrap() + line + "= ".len();
    let end = config[value..].find('\n').unwrap() + value;
    format!("{}{replicas}{}", &config[..value], &config[end..])
}

#[test]
fn scale_down_decommissions_gated_in_one_region_and_in_all_regions_at_once_with_no_range_unavailable(
) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = with_image(&configuration(&clusters, &ws, false, 3), "v24.1.0", "auto");
    ws.write_config(&base);
    ws.apply();
    settle(&clusters);

    let one = with_replicas(&base, ZONES[0], 2);
    ws.write_config(&one);
    ws.apply();
    assert_never_unavailable(&clusters, "scale-down in one region");
    assert_eq!(members(&clusters), (8, 1));
    ws.assert_plan_empty("the scale-down in one region");

    settle(&clusters);
    let mut all = with_replicas(&one, ZONES[0], 1);
    for zone in &ZONES[1..] {
        all = with_replicas(&all, zone, 2);
    }
    ws.write_config(&all);
    ws.apply();
    assert_never_unavailable(&clusters, "scale-down in every region at once");
    assert_eq!(members(&clusters), (5, 4));
    let left = clusters.sandbox.world().unwrap().cockroach().availability();
    assert_eq!(left.ranges_lost, 0);
    ws.assert_plan_empty("the scale-down in every region");
}

#[test]
fn the_outage_drill_keeps_every_range_available_and_other_operations_wait_until_the_region_is_back()
{
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let world = clusters.sandbox.world().unwrap();
    let ws = Workspace::new("");
    let base = with_image(&configuration(&clusters, &ws, false, 3), "v24.1.0", "auto");
    ws.write_config(&base);
    ws.apply();
    settle(&clusters);
    let stores_before: Vec<String> = world
        .cockroach()
        .nodes()
        .into_iter()
        .map(|n| n.store)
        .collect();

    // The drill: one region stopped, volumes kept, nothing decommissioned.
    let stopped = with_replicas(&base, ZONES[1], 0);
    ws.write_config(&stopped);
    ws.apply();
    let (active, decommissioned) = members(&clusters);
    assert_eq!(
        (active, decommissioned),
        (6, 0),
        "three nodes down, none decommissioned"
    );
    // While it is down, a rollout is refused at plan, on the stopped zone's line, saying what to do first.
    let rollout = stopped.replace("cockroach:v24.1.0", "cockroach:v24.1.26");
    ws.write_config(&rollout);
    let plan = ws.terraform(&["plan", "-input=false", "-no-color"]);
    assert_ne!(plan.code, 0, "{}", plan.stdout);
    let said = plan.said();
    assert!(
        said.contains(&format!(
            "Zone {} is stopped while every other zone restarts",
            ZONES[1]
        )),
        "{said}"
    );
    let its_line = format!(
        "in resource \"crdb_region\" \"{}\"",
        ZONES[1].replace('-', "_")
    );
    assert!(said.contains(&its_line), "on its line: {said}");
    assert!(said.contains("scale it up (replicas > 0)"), "{said}");
    // An apply that leaves the stopped zone out of the run (`-target`, or a zone in another configuration) cannot
    // be refused at plan: its gate sees the zone down for longer than a restart takes, and stops at once, naming
    // it, instead of waiting out the update timeout (5m here); nothing restarts.
    let mut apply = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    let targets: Vec<String> = [ZONES[0], ZONES[2]]
        .iter()
        .map(|z| format!("-target=crdb_region.{}", z.replace('-', "_")))
        .collect();
    apply.extend(targets.iter().map(String::as_str));
    let run = ws.terraform(&apply);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = run.said();
    assert!(
        said.contains("CockroachDB nodes are down; stopped before restarting"),
        "{said}"
    );
    assert!(
        said.contains("have not been live for longer than 60s: n"),
        "the gate names the nodes down: {said}"
    );
    assert!(said.contains(&format!("zone={}", ZONES[1])), "{said}");
    assert!(
        !said.contains("did not become healthy") && !said.contains("waited too long"),
        "nothing waited out a timeout: {said}"
    );
    assert!(
        images(&clusters)
            .iter()
            .all(|(_, image)| image.ends_with("v24.1.0")),
        "no node restarted while a region was down"
    );

    // Back: the same nodes restart on their data.
    ws.write_config(&base);
    ws.apply();
    assert_eq!(members(&clusters), (9, 0));
    let mut stores_after: Vec<String> = world
        .cockroach()
        .nodes()
        .into_iter()
        .map(|n| n.store)
        .collect();
    let mut before = stores_before.clone();
    before.sort();
    stores_after.sort();
    assert_eq!(stores_after, before, "the same stores came back");
    let seen = world.cockroach().availability();
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{seen:?}");
    assert!(
        seen.under_replicated_range_seconds > 0.0,
        "the region was really down: {seen:?}"
    );
    eprintln!("outage drill: {seen:?}");
}

#[test]
fn adding_then_removing_a_zone_on_a_live_cluster_restarts_no_node_and_decommissions_only_the_removed_zone(
) {
    use crate::regions::pod_generations;
    const NEW_ZONE: &str = "asia-east1-a";
    let mut names = ZONES.to_vec();
    names.push(NEW_ZONE);
    let clusters = Clusters::start_zones(&names);
    let ws = Workspace::new("");
    ws.write_config(&configuration_of(&clusters, &ws, &ZONES));
    ws.apply();
    settle(&clusters);
    let selector = "app.kubernetes.io/component=database";
    let before = pod_generations(&clusters, selector);
    assert_eq!(before.len(), 9);

    ws.write_config(&configuration_of(&clusters, &ws, &names));
    ws.apply();
    assert_eq!(
        pod_generations(&clusters, selector),
        before,
        "no running node restarted: same pods, no container restart"
    );
    await_value(
        "the new zone's nodes joining",
        Duration::from_secs(60),
        (12, 0),
        || members(&clusters),
    );
    let seen = assert_never_unavailable(&clusters, "adding a zone");
    assert_eq!(seen.max_nodes_down, 0, "{seen:?}");
    ws.assert_plan_empty("adding a zone");

    // Removing it again: its nodes are decommissioned (replicas moved away) before its namespace and volumes go.
    settle(&clusters);
    ws.write_config(&configuration_of(&clusters, &ws, &ZONES));
    ws.apply();
    let seen = assert_never_unavailable(&clusters, "removing a zone");
    assert_eq!(seen.ranges_lost, 0, "{seen:?}");
    assert_eq!(
        members(&clusters),
        (9, 3),
        "the zone's three nodes were decommissioned"
    );
    assert_eq!(
        pod_generations(&clusters, selector),
        before,
        "no running node of the zones left restarted"
    );
    ws.assert_plan_empty("removing a zone");

    // Destroying everything tears down without decommissioning anything more: watched while it runs, since the
    // cluster's nodes are gone with it.
    assert_eq!(
        most_decommissioned_during_destroy(&clusters, &ws),
        3,
        "the whole teardown decommissioned no node"
    );
    assert!(clusters
        .sandbox
        .world()
        .unwrap()
        .cockroach()
        .nodes()
        .is_empty());
}

#[test]
fn removing_a_zone_the_others_cannot_replace_is_refused_before_anything_is_touched() {
    use k8s_openapi::api::core::v1::Namespace;
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let one_each = configuration_of(&clusters, &ws, &ZONES).replace("replicas = 3", "replicas = 1");
    ws.write_config(&one_each);
    ws.apply();
    settle(&clusters);

    // Two nodes could not hold three replicas of every range.
    ws.write_config(
        &configuration_of(&clusters, &ws, &ZONES[..2]).replace("replicas = 3", "replicas = 1"),
    );
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let said = run.said();
    assert!(
        said.contains(&format!(
            "Zone {} cannot leave the running cluster",
            ZONES[2]
        )),
        "{said}"
    );
    assert!(
        said.contains("2 live node(s) would stay, fewer than the 3 replicas"),
        "{said}"
    );
    let api: Api<Namespace> = Api::all(clusters.client(ZONES[2]));
    let namespace = clusters.runtime.block_on(api.get_opt(ZONES[2])).unwrap();
    assert!(namespace.is_some_and(|n| n.metadata.deletion_timestamp.is_none()));
    assert_eq!(
        members(&clusters),
        (3, 0),
        "every node still live, none decommissioned"
    );
    assert_never_unavailable(&clusters, "a refused zone removal");
}

/// Every write each zone's API server served since the last call, by zone.
fn writes(clusters: &Clusters) -> Vec<(String, String)> {
    ZONES
        .iter()
        .flat_map(|zone| {
            clusters
                .sandbox
                .take_writes(zone)
                .unwrap()
                .into_iter()
                .map(|w| (zone.to_string(), w))
        })
        .collect()
}

/// A rollout runs no Job per node: its health gates read the nodes through the pods proxy, and the database's
/// disruption lease is taken by one Job when the first node's turn comes and released by one when the last ends;
/// the regions of one apply share that lease and what its Job read, so a rollout of every region runs no more.
#[test]
fn a_rollout_runs_at_most_two_lease_jobs_whatever_its_regions_and_no_gate_job() {
    let (clusters, ws, base) = three_settled_regions();
    writes(&clusters);
    let request = |config: &str, times: usize| {
        config.replacen(
            "  replicas            = 3\n",
            "  replicas            = 3\n  cpu_request         = \"500m\"\n",
            times,
        )
    };
    let runs = |written: &[(String, String)], job: &str| {
        written
            .iter()
            .filter(|(_, w)| w.starts_with("PATCH ") && w.contains(&format!("/jobs/{job}")))
            .count()
    };
    // A requests change in the first region only: its three nodes restart, the others' none.
    let one = request(&base, 1);
    assert_ne!(one, base);
    ws.write_config(&one);
    ws.apply();
    let seen = assert_never_unavailable(&clusters, "a requests change in one region");
    assert_eq!(seen.max_nodes_down, 1, "nodes did restart: {seen:?}");
    let written = writes(&clusters);
    let rolled: std::collections::BTreeSet<&str> = written
        .iter()
        .filter(|(_, w)| w.contains("/statefulsets/"))
        .map(|(zone, _)| zone.as_str())
        .collect();
    assert_eq!(rolled.len(), 1, "one region rolled: {written:#?}");
    let lease_jobs = runs(&written, "cockroachdb-disruption-lease");
    assert!(
        (1..=2).contains(&lease_jobs),
        "{lease_jobs} lease Jobs: {written:#?}"
    );
    assert_eq!(
        runs(&written, "cockroachdb-health"),
        0,
        "gate Jobs ran: {written:#?}"
    );
    ws.assert_plan_empty("the requests change");

    // The same change in the other two regions as well: the two regions roll in one apply, on one lease.
    settle(&clusters);
    let every = request(&base, 3);
    assert_eq!(every.matches("cpu_request").count(), 3);
    ws.write_config(&every);
    ws.apply();
    assert_never_unavailable(&clusters, "a requests change in every region");
    let written = writes(&clusters);
    let lease_jobs = runs(&written, "cockroachdb-disruption-lease");
    assert!(
        (1..=2).contains(&lease_jobs),
        "two regions rolled with {lease_jobs} lease Jobs: {written:#?}"
    );
    assert_eq!(
        runs(&written, "cockroachdb-health"),
        0,
        "gate Jobs ran: {written:#?}"
    );
    ws.assert_plan_empty("the requests change in every region");
}

/// Nothing is written when nothing changes: an apply with nothing to change writes nothing, and an update that
/// rolls no node (a load balancer annotation, new timeouts) writes no StatefulSet.
#[test]
fn an_apply_that_changes_nothing_writes_nothing_and_one_that_rolls_nothing_writes_no_statefulset() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let config = configuration(&clusters, &ws, false, 3);
    ws.write_config(&config);
    ws.apply();
    settle(&clusters);
    writes(&clusters);
    let unchanged = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(unchanged.code, 0, "{}", unchanged.stderr);
    assert_eq!(
        writes(&clusters),
        Vec::<(String, String)>::new(),
        "an apply with nothing to change wrote"
    );
    let annotated = config.replace(
        "  zone                = \"us-west1-a\"\n",
        "  zone                = \"us-west1-a\"\n  dns_load_balancer_annotations = {\n    \"example.com/team\" = \"db\"\n  }\n",
    );
    assert_ne!(annotated, config);
    ws.write_config(&annotated);
    ws.apply();
    let written = writes(&clusters);
    assert!(
        written.iter().any(|(zone, w)| zone == "us-west1-a"
            && w == "PATCH /api/v1/namespaces/kube-system/services/crdb-dns-us-west1-a"),
        "the annotation was not written: {written:#?}"
    );
    let sets: Vec<&(String, String)> = written
        .iter()
        .filter(|(_, w)| w.contains("/statefulsets/"))
        .collect();
    assert_eq!(
        sets,
        Vec::<&(String, String)>::new(),
        "a StatefulSet was written though nothing rolls"
    );
    ws.assert_plan_empty("the annotation");
}
