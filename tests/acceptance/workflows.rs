//! The CLI's everyday flags against a running deployment, under every client of the matrix: `apply -refresh-only`
//! records drift without touching the cluster, `-replace` re-creates a link (and is refused for a protected
//! region), and `-target` of one region during a CA rotation is warned about at plan and stops safely at apply.
use crate::day2::{assert_never_unavailable, settle};
use crate::faults::everything;
use crate::harness::Workspace;
use crate::regions::{configuration, dns_config, pod_generations, Clusters, ZONES};

#[test]
fn refresh_only_replace_and_target_do_what_they_say() {
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, true, 3);
    ws.write_config(&base);
    ws.apply();
    settle(&clusters);

    // -refresh-only: a link's forwarding removed by hand is recorded as drift, and nothing is written.
    let zone = ZONES[1];
    let key = zone.replace('-', "_");
    let forwarded_before = forwarded_zones(&clusters, zone);
    assert!(!forwarded_before.is_empty(), "the link forwards its peers");
    remove_our_forwarding(&clusters, zone);
    let emptied = dns_config(&clusters, zone, "coredns");
    assert!(forwarded_zones(&clusters, zone).is_empty(), "{emptied}");
    let refreshed = ws
        .terraform(&[
            "apply",
            "-refresh-only",
            "-auto-approve",
            "-input=false",
            "-no-color",
        ])
        .ok("apply -refresh-only");
    assert!(
        refreshed.said().contains(&format!("crdb_dns_link.{key}")),
        "the refresh names the link that drifted:\n{}",
        refreshed.stdout
    );
    assert_eq!(
        dns_config(&clusters, zone, "coredns"),
        emptied,
        "-refresh-only wrote to the cluster"
    );
    let planned = ws.planned_actions();
    assert!(
        planned.contains(&(format!("crdb_dns_link.{key}"), vec!["update".to_string()])),
        "after the refresh the plan repairs the link: {planned:?}"
    );

    // -replace of the link: destroyed and created again, forwarding as before, nothing else planned.
    let replaced = ws
        .terraform(&[
            "apply",
            "-replace",
            &format!("crdb_dns_link.{key}"),
            "-auto-approve",
            "-input=false",
            "-no-color",
        ])
        .ok("apply -replace");
    assert!(
        replaced.said().contains("1 added, 0 changed, 1 destroyed"),
        "{}",
        replaced.stdout
    );
    assert_eq!(forwarded_zones(&clusters, zone), forwarded_before);
    ws.assert_plan_empty("replacing the link");

    // -replace of a protected region: Terraform plans the replacement itself (the provider is not told it is
    // one), and the destroy half is refused at apply before anything is touched.
    let before = everything(&clusters);
    let refused = ws.terraform(&[
        "apply",
        "-replace",
        &format!("crdb_region.{key}"),
        "-auto-approve",
        "-input=false",
        "-no-color",
    ]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.said().contains("deletion_protection"),
        "{}",
        refused.said()
    );
    assert_eq!(
        everything(&clusters),
        before,
        "a refused replacement touched the zone"
    );
    // Terraform 1.11 writes the state back from the refused destroy without the sensitivity marks the region's
    // `cluster` inherits from the cluster's keys, so its next plan shows an update of nothing visible; applying it
    // restores the marks and restarts nothing.
    let pods = pod_generations(&clusters, "app.kubernetes.io/component=database");
    ws.apply();
    assert_eq!(
        pod_generations(&clusters, "app.kubernetes.io/component=database"),
        pods,
        "re-marking the state restarted a node"
    );
    ws.assert_plan_empty("a refused replacement");

    // -target of one region while the CA rotates: the plan warns, the apply stops safely, a full apply completes.
    let rotated = base.replacen("  zones = [", "  pki_generation = 2\n  zones = [", 1);
    ws.write_config(&rotated);
    let targets = [
        "-target",
        "crdb_multiregion_cluster.main",
        "-target",
        &format!("crdb_region.{key}"),
    ];
    let mut plan_args = vec!["plan", "-input=false", "-no-color"];
    plan_args.extend(targets);
    let targeted_plan = ws.terraform(&plan_args).ok("targeted plan");
    assert!(
        targeted_plan
            .said()
            .contains("A CA rotation needs every region in this apply"),
        "{}",
        targeted_plan.said()
    );
    settle(&clusters);
    let mut apply_args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    apply_args.extend(targets);
    let stopped = ws.terraform(&apply_args);
    assert_ne!(stopped.code, 0, "a rotation of one zone alone must stop");
    let said = stopped.said();
    assert!(
        said.contains(&format!("CA rotation paused in zone {zone}")),
        "{said}"
    );
    assert!(said.contains("did not take part in this run"), "{said}");
    assert_never_unavailable(&clusters, "a targeted CA rotation");
    ws.apply();
    assert_never_unavailable(&clusters, "the CA rotation completed by a full apply");
    ws.assert_plan_empty("the rotation");
}

/// The zones whose `<zone>.svc.` names a CoreDNS cluster's Corefile forwards.
fn forwarded_zones(clusters: &Clusters, zone: &str) -> Vec<&'static str> {
    let corefile = dns_config(clusters, zone, "coredns");
    ZONES
        .into_iter()
        .filter(|peer| corefile.contains(&format!("{peer}.svc.")))
        .collect()
}

/// Empties the provider's server blocks from a CoreDNS cluster's Corefile, as someone editing it by hand might.
fn remove_our_forwarding(clusters: &Clusters, zone: &str) {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams};
    let api: Api<ConfigMap> = Api::namespaced(clusters.client(zone), "kube-system");
    let patch =
        serde_json::json!({"data": {"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n"}});
    clusters
        .runtime
        .block_on(api.patch("coredns", &PatchParams::default(), &Patch::Merge(&patch)))
        .unwrap();
}
