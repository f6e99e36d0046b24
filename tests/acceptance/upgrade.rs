//! Major-version upgrades through the real CLI against kube-sandbox: the plan refuses what CockroachDB
//! would refuse, and `upgrade_finalization = "manual"` keeps an upgrade open for a rollback until it is switched
//! back to `"auto"`.
use crate::day2::{is_lease_release, job_names};
use crate::harness::{Workspace, PROVIDER_BLOCK};
use crate::regions::{configuration, live_nodes, Clusters, ZONES};
use kube_sandbox::world::{ClusterStatus, CockroachEvent, PRESERVE_DOWNGRADE_OPTION};

const IMAGE_LINE: &str = "  image = \"cockroachdb/cockroach:v24.1.0\"\n";

/// The three-zone configuration with the cluster at `tag` and the given finalization.
fn with_version(clusters: &Clusters, ws: &Workspace, tag: &str, finalization: &str) -> String {
    let config = configuration(clusters, ws, true, 3);
    assert!(config.contains(IMAGE_LINE));
    config.replacen(
        IMAGE_LINE,
        &format!(
            "  image = \"cockroachdb/cockroach:{tag}\"\n  upgrade_finalization = \"{finalization}\"\n"
        ),
        1,
    )
}

fn cockroach(clusters: &Clusters) -> ClusterStatus {
    let mut all = clusters.sandbox.world().unwrap().cockroach().clusters();
    assert_eq!(all.len(), 1, "one CockroachDB cluster");
    all.remove(0)
}

/// Every node live on `version`.
fn assert_all_nodes_on(clusters: &Clusters, version: &str) {
    let nodes = clusters.sandbox.world().unwrap().cockroach().nodes();
    assert_eq!(live_nodes(clusters), (9, 9), "{nodes:#?}");
    assert!(
        nodes.iter().all(|n| n.version == version),
        "every node runs {version}: {nodes:#?}"
    );
}

/// The provider's Jobs left in the zones' namespaces, but the init Job (a record) and the lease's release Jobs
/// (which remove themselves).
fn jobs_left(clusters: &Clusters) -> Vec<String> {
    let mut left = job_names(clusters);
    left.retain(|name| name != "cockroachdb-init" && !is_lease_release(name));
    left
}

/// `terraform plan -json` fails with one error whose summary is `summary`, on the line of the cluster's
/// `image` in `config`; returns its detail.
fn assert_refused_on_image(ws: &Workspace, config: &str, summary: &str) -> String {
    let run = ws.terraform(&["plan", "-json", "-input=false"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let full = format!("{PROVIDER_BLOCK}\n{config}");
    let image_line = full
        .lines()
        .position(|l| l.trim_start().starts_with("image = "))
        .unwrap() as i64
        + 1;
    let diags = run.diagnostics();
    let refusal = diags
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap_or_else(|| panic!("no error: {diags:#?}"));
    assert_eq!(refusal["summary"], summary, "{diags:#?}");
    assert_eq!(
        refusal["range"]["start"]["line"], image_line,
        "the error points at the cluster's image: {diags:#?}"
    );
    assert!(
        refusal["address"]
            .as_str()
            .unwrap_or_default()
            .contains("crdb_multiregion_cluster.main"),
        "{diags:#?}"
    );
    refusal["detail"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_manual_major_upgrade_stays_open_for_a_rollback_until_finalized_and_skips_are_refused_at_plan_time(
) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&with_version(&clusters, &ws, "v24.1.0", "manual"));
    ws.apply();
    assert_all_nodes_on(&clusters, "24.1");

    // 24.1 to 25.1 skips the Regular release 24.3: refused before anything is applied.
    let skip = with_version(&clusters, &ws, "v25.1.0", "manual");
    ws.write_config(&skip);
    let detail = assert_refused_on_image(&ws, &skip, "Upgrade skips a required major version");
    assert!(
        detail.contains("v24.2.x (an Innovation release, which may be skipped) or v24.3.x"),
        "the refusal says what may come next: {detail}"
    );
    assert_all_nodes_on(&clusters, "24.1");

    // One legal step, skipping the Innovation release 24.2.
    ws.write_config(&with_version(&clusters, &ws, "v24.3.0", "manual"));
    ws.apply();
    assert_all_nodes_on(&clusters, "24.3");
    let status = cockroach(&clusters);
    assert_eq!(status.preserve_downgrade_option(), Some("24.1"));
    assert_eq!(status.version.as_deref(), Some("24.1"), "not finalized");
    let first = |matches: &dyn Fn(&CockroachEvent) -> bool| {
        status
            .events
            .iter()
            .position(matches)
            .unwrap_or_else(|| panic!("{:#?}", status.events))
    };
    let preserved = first(&|e| {
        matches!(e, CockroachEvent::SettingSet { name, value }
                 if name == PRESERVE_DOWNGRADE_OPTION && value == "24.1")
    });
    let first_new_node =
        first(&|e| matches!(e, CockroachEvent::NodeRunning { version, .. } if version == "24.3"));
    assert!(
        preserved < first_new_node,
        "the option is set before any node runs 24.3: {:#?}",
        status.events
    );
    assert_eq!(
        jobs_left(&clusters),
        Vec::<String>::new(),
        "Jobs are deleted after success"
    );
    ws.assert_plan_empty("the upgrade");
    let cluster = ws.resource("crdb_multiregion_cluster.main");
    assert_eq!(cluster["cluster_version"], "24.1");

    // While open, the upgrade can be rolled back: nodes of 24.1 rejoin the cluster still finalized at 24.1.
    ws.write_config(&with_version(&clusters, &ws, "v24.1.0", "manual"));
    ws.apply();
    assert_all_nodes_on(&clusters, "24.1");
    assert_eq!(cockroach(&clusters).version.as_deref(), Some("24.1"));
    ws.assert_plan_empty("the rollback");
    ws.write_config(&with_version(&clusters, &ws, "v24.3.0", "manual"));
    ws.apply();
    assert_all_nodes_on(&clusters, "24.3");

    // Finalizing: switching to auto resets the option, and the cluster version moves.
    ws.write_config(&with_version(&clusters, &ws, "v24.3.0", "auto"));
    ws.apply();
    let status = cockroach(&clusters);
    assert_eq!(status.preserve_downgrade_option(), None);
    assert_eq!(status.version.as_deref(), Some("24.3"));
    let position = |wanted: &CockroachEvent| status.events.iter().position(|e| e == wanted);
    let reset = position(&CockroachEvent::SettingReset {
        name: PRESERVE_DOWNGRADE_OPTION.into(),
    });
    let finalized = position(&CockroachEvent::Finalized {
        version: "24.3".into(),
    });
    assert!(
        reset.is_some() && finalized > reset,
        "finalized by the reset: {:#?}",
        status.events
    );
    assert_all_nodes_on(&clusters, "24.3");
    assert_eq!(jobs_left(&clusters), Vec::<String>::new());
    ws.assert_plan_empty("finalizing");
    assert_eq!(
        ws.resource("crdb_multiregion_cluster.main")["cluster_version"],
        "24.3"
    );

    // Once finalized, the old major is out of reach.
    let back = with_version(&clusters, &ws, "v24.1.0", "manual");
    ws.write_config(&back);
    assert_refused_on_image(&ws, &back, "CockroachDB cannot be downgraded");
}

#[test]
fn a_failed_preserve_job_names_the_cluster_the_job_and_the_answer_and_the_next_apply_retries() {
    use kube_sandbox::world::AUTO_UPGRADE_ENABLED;
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let world = clusters.sandbox.world().unwrap();
    let ws = Workspace::new("");
    ws.write_config(&with_version(&clusters, &ws, "v24.3.0", "auto"));
    ws.apply();
    // Someone turned automatic finalization off by hand: the cluster stays at 24.3 under 25.2 binaries,
    // while the configuration believes it finalized.
    let ca = cockroach(&clusters).ca;
    world
        .cockroach()
        .set_cluster_setting(&ca, AUTO_UPGRADE_ENABLED, "false")
        .unwrap();
    ws.write_config(&with_version(&clusters, &ws, "v25.2.0", "auto"));
    ws.apply();
    assert_all_nodes_on(&clusters, "25.2");
    assert_eq!(cockroach(&clusters).version.as_deref(), Some("24.3"));

    // CockroachDB refuses to preserve 25.2 on a cluster at 24.3; nothing rolls.
    ws.write_config(&with_version(&clusters, &ws, "v25.3.0", "manual"));
    let run = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let error = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    let url = clusters.sandbox.cluster(ZONES[0]).unwrap().url();
    for expected in [
        "Setting cluster.preserve_downgrade_option to 25.2 failed in zone us-east1-b",
        &url,
        "Job us-east1-b/cockroachdb-preserve-downgrade",
        "cannot set cluster.preserve_downgrade_option to 25.2 (cluster version is 24.3)",
        "The StatefulSet was not changed",
    ] {
        assert!(
            error.contains(expected),
            "no {expected:?} in: {}",
            run.stderr
        );
    }
    assert_all_nodes_on(&clusters, "25.2");

    // Once the cluster has finalized, the next apply runs the Job again and completes the upgrade.
    world
        .cockroach()
        .reset_cluster_setting(&ca, AUTO_UPGRADE_ENABLED);
    assert_eq!(cockroach(&clusters).version.as_deref(), Some("25.2"));
    ws.apply();
    assert_all_nodes_on(&clusters, "25.3");
    let status = cockroach(&clusters);
    assert_eq!(status.preserve_downgrade_option(), Some("25.2"));
    assert_eq!(status.version.as_deref(), Some("25.2"));
    assert_eq!(jobs_left(&clusters), Vec::<String>::new());
    ws.assert_plan_empty("the retried upgrade");
}
