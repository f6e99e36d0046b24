//! Applies that meet what they did not expect: a zone already running another cluster's nodes (a lost state
//! file), a cluster cut off mid-apply, an interrupted apply, injected API faults.
use crate::harness::Workspace;
use crate::regions::{configuration, live_nodes, Clusters, ZONES};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::{Api, ListParams};

/// Every object of the zones and their `kube-system` with its resource version (pods with their uid): equal
/// snapshots mean nothing was written, restarted or replaced.
pub fn everything(clusters: &Clusters) -> Vec<String> {
    let mut found = Vec::new();
    for zone in ZONES {
        let client = clusters.client(zone);
        clusters.runtime.block_on(async {
            for namespace in [zone, "kube-system"] {
                let all = ListParams::default();
                let named = |kind: &str, meta: &kube::api::ObjectMeta, version: &Option<String>| {
                    format!(
                        "{zone} {kind}/{namespace}/{} {}",
                        meta.name.clone().unwrap_or_default(),
                        version.clone().unwrap_or_default()
                    )
                };
                for o in Api::<Secret>::namespaced(client.clone(), namespace)
                    .list(&all)
                    .await
                    .unwrap()
                {
                    found.push(named("Secret", &o.metadata, &o.metadata.resource_version));
                }
                for o in Api::<ConfigMap>::namespaced(client.clone(), namespace)
                    .list(&all)
                    .await
                    .unwrap()
                {
                    found.push(named(
                        "ConfigMap",
                        &o.metadata,
                        &o.metadata.resource_version,
                    ));
                }
                for o in Api::<Service>::namespaced(client.clone(), namespace)
                    .list(&all)
                    .await
                    .unwrap()
                {
                    found.push(named("Service", &o.metadata, &o.metadata.resource_version));
                }
                for o in Api::<StatefulSet>::namespaced(client.clone(), namespace)
                    .list(&all)
                    .await
                    .unwrap()
                {
                    found.push(named(
                        "StatefulSet",
                        &o.metadata,
                        &o.metadata.resource_version,
                    ));
                }
                for o in Api::<Pod>::namespaced(client.clone(), namespace)
                    .list(&all)
                    .await
                    .unwrap()
                {
                    found.push(named("Pod", &o.metadata, &o.metadata.uid));
                }
            }
        });
    }
    found.sort();
    found
}

#[test]
fn a_lost_state_file_never_overwrites_the_running_cluster() {
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&configuration(&clusters, &ws, true, 1));
    ws.apply();
    assert_eq!(live_nodes(&clusters), (3, 3));
    let before = everything(&clusters);

    std::fs::remove_file(ws.path().join("terraform.tfstate")).unwrap();
    let again = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(
        again.code, 0,
        "an apply over a running cluster it does not own fails"
    );
    for zone in ZONES {
        assert!(
            again
                .stderr
                .contains(&format!("Zone {zone} runs CockroachDB under another CA")),
            "{zone} is not named: {}",
            again.stderr
        );
    }
    let flat = again
        .stderr
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("terraform import crdb_region.<name> <kubeconfig context>/"),
        "{flat}"
    );
    assert!(flat.contains("Nothing in the zone was changed"), "{flat}");
    assert_eq!(
        everything(&clusters),
        before,
        "the refused apply changed something in a zone"
    );
    assert_eq!(live_nodes(&clusters), (3, 3));
    assert!(
        ws.state()
            .iter()
            .all(|(address, _)| !address.starts_with("crdb_region.")),
        "no region was recorded"
    );
}
