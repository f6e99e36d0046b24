//! Certificates through the real CLI with lifetimes of minutes (the cluster's own settings; the provider reads the
//! real clock): a plan inside the renewal window renews with no configuration change, apply rolls the new node
//! certificates out one node at a time with no range unavailable, a certificate left to expire takes its nodes
//! down in the sandbox and the next apply brings them back.
use crate::day2::settle;
use crate::harness::Workspace;
use crate::regions::{configuration, live_nodes, Clusters, ZONES};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams};
use serde_json::Value as Json;
use std::time::{Duration, Instant};

const CLUSTER_BLOCK_END: &str = "  zones = [";

/// The three-region configuration with certificates issued for `validity`, renewed in their last `renewal`.
pub(crate) fn short_lived(
    clusters: &Clusters,
    ws: &Workspace,
    validity: &str,
    renewal: &str,
) -> String {
    let base = configuration(clusters, ws, false, 3);
    assert!(base.contains(CLUSTER_BLOCK_END));
    base.replacen(
        CLUSTER_BLOCK_END,
        &format!(
            "  certificate_validity = \"{validity}\"\n  certificate_renewal  = \"{renewal}\"\n{CLUSTER_BLOCK_END}"
        ),
        1,
    )
}

fn region_address(zone: &str) -> String {
    format!("crdb_region.{}", zone.replace('-', "_"))
}

fn time_of(rfc3339: &Json) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        rfc3339.as_str().expect("an RFC 3339 date"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("an RFC 3339 date")
}

/// Every certificate expiry in state: the root client's and each zone's node certificate's.
pub(crate) fn expiries(ws: &Workspace) -> Vec<(String, time::OffsetDateTime)> {
    let mut all = vec![(
        "root client".to_string(),
        time_of(
            &ws.resource("crdb_multiregion_cluster.main")["root_client_certificate_expires_at"],
        ),
    )];
    for zone in ZONES {
        let region = ws.resource(&region_address(zone));
        all.push((
            zone.to_string(),
            time_of(&region["node_certificate_expires_at"]),
        ));
    }
    all
}

/// Sleeps until wall time `at`.
pub(crate) fn sleep_until(at: time::OffsetDateTime) {
    let left = at - time::OffsetDateTime::now_utc();
    if left.is_positive() {
        std::thread::sleep(left.unsigned_abs());
    }
}

/// The node pods' UIDs, by name.
fn pod_uids(clusters: &Clusters) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for zone in ZONES {
        let api: Api<Pod> = Api::namespaced(clusters.client(zone), zone);
        let pods = clusters
            .runtime
            .block_on(
                api.list(&ListParams::default().labels("app.kubernetes.io/component=database")),
            )
            .unwrap();
        for pod in pods {
            all.push((
                format!("{zone}/{}", pod.metadata.name.unwrap_or_default()),
                pod.metadata.uid.unwrap_or_default(),
            ));
        }
    }
    all.sort();
    all
}

/// A file of a secret in one zone's cluster.
pub(crate) fn secret_file(
    clusters: &Clusters,
    zone: &str,
    namespace: &str,
    name: &str,
    file: &str,
) -> String {
    let api: Api<Secret> = Api::namespaced(clusters.client(zone), namespace);
    let secret = clusters.runtime.block_on(api.get(name)).unwrap();
    let data = secret.data.unwrap_or_default();
    String::from_utf8(data.get(file).map(|b| b.0.clone()).unwrap_or_default()).unwrap()
}

#[test]
fn a_plan_inside_the_renewal_window_renews_every_certificate_and_apply_rolls_them_one_node_at_a_time(
) {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let config = short_lived(&clusters, &ws, "4m", "3m");
    ws.write_config(&config);
    let created = Instant::now();
    ws.apply();
    eprintln!("create took {:?}", created.elapsed());
    ws.assert_plan_empty("the create, outside every renewal window");
    let before = expiries(&ws);
    let root_before =
        ws.resource("crdb_multiregion_cluster.main")["root_client_certificate"].clone();

    // Into the window of every certificate, with the configuration unchanged.
    let latest = before.iter().map(|(_, at)| *at).max().unwrap();
    sleep_until(latest - time::Duration::minutes(3) + time::Duration::seconds(2));
    let plan = ws.terraform(&["plan", "-input=false", "-no-color"]);
    let said = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        said.contains("root client certificate expires soon"),
        "{said}"
    );
    for zone in ZONES {
        assert!(
            said.contains(&format!("node certificate of zone {zone} expires soon")),
            "{said}"
        );
    }
    for (_, at) in &before {
        let date = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert!(said.contains(&date), "the warning names {date}: {said}");
    }
    let changes = ws.planned_unknown_attributes();
    let of = |address: &str| {
        changes
            .iter()
            .find(|(a, _)| a == address)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    for renewed in [
        "root_client_certificate",
        "root_client_certificate_expires_at",
        "root_client_private_key",
    ] {
        assert!(
            of("crdb_multiregion_cluster.main").contains(&renewed.to_string()),
            "{changes:?}"
        );
    }
    for zone in ZONES {
        let changed = of(&region_address(zone));
        for renewed in [
            "node_certificate",
            "node_certificate_expires_at",
            "node_private_key",
        ] {
            assert!(
                changed.contains(&renewed.to_string()),
                "{zone}: {changed:?}"
            );
        }
    }
    let actions = ws.planned_actions();
    assert!(
        actions
            .iter()
            .all(|(_, a)| a == &["update".to_string()] || a == &["no-op".to_string()]),
        "renewal is an in-place update: {actions:?}"
    );

    settle(&clusters);
    let uids_before = pod_uids(&clusters);
    let applied = Instant::now();
    ws.apply();
    eprintln!("renewal apply took {:?}", applied.elapsed());
    let seen = clusters.sandbox.world().unwrap().cockroach().availability();
    eprintln!("certificate renewal: {seen:?}");
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{seen:?}");
    assert_eq!(
        seen.max_nodes_down, 1,
        "every node restarted, one at a time: {seen:?}"
    );
    let uids_after = pod_uids(&clusters);
    assert_eq!(uids_after.len(), 9);
    for ((pod, old), (_, new)) in uids_before.iter().zip(&uids_after) {
        assert_ne!(old, new, "{pod} was restarted onto its new certificate");
    }
    assert_eq!(live_nodes(&clusters), (9, 9));

    let after = expiries(&ws);
    for ((what, old), (_, new)) in before.iter().zip(&after) {
        assert!(new > old, "{what}: {old} -> {new}");
    }
    let root_after =
        ws.resource("crdb_multiregion_cluster.main")["root_client_certificate"].clone();
    assert_ne!(root_after, root_before);
    for zone in ZONES {
        let region = ws.resource(&region_address(zone));
        assert_eq!(
            secret_file(&clusters, zone, zone, "cockroachdb.node", "node.crt"),
            region["node_certificate"].as_str().unwrap()
        );
        assert_eq!(
            secret_file(
                &clusters,
                zone,
                zone,
                "cockroachdb.client.root",
                "client.root.crt"
            ),
            root_after.as_str().unwrap()
        );
        let default_copy = format!("cockroachdb.client.root.{zone}");
        assert_eq!(
            secret_file(&clusters, zone, "default", &default_copy, "client.root.crt"),
            root_after.as_str().unwrap(),
            "the copy in default is renewed too"
        );
    }
    ws.assert_plan_empty("the renewal");
}

#[test]
fn a_certificate_left_to_expire_takes_its_nodes_down_and_the_next_apply_brings_them_back() {
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    ws.write_config(&short_lived(&clusters, &ws, "1m", "30s"));
    ws.apply();
    assert_eq!(live_nodes(&clusters), (9, 9));

    // Nobody applies: once the node certificates expire, the nodes drop out.
    let latest = expiries(&ws).iter().map(|(_, at)| *at).max().unwrap();
    sleep_until(latest + time::Duration::seconds(2));
    let until = Instant::now() + Duration::from_secs(30);
    while live_nodes(&clusters).1 > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        live_nodes(&clusters),
        (9, 0),
        "every node's certificate expired"
    );
    let world = clusters.sandbox.world().unwrap();
    let log = world.pod_log(ZONES[0], ZONES[0], "cockroachdb-0");
    assert!(log.contains("certificate has expired"), "{log}");

    let plan = ws.terraform(&["plan", "-input=false", "-no-color"]);
    let said = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        said.contains(&format!(
            "node certificate of zone {} has expired",
            ZONES[0]
        )),
        "{said}"
    );

    let applied = Instant::now();
    ws.apply();
    eprintln!("recovery apply took {:?}", applied.elapsed());
    assert_eq!(
        live_nodes(&clusters),
        (9, 9),
        "the next apply brought every node back"
    );
    assert_eq!(world.cockroach().availability().ranges_lost, 0);
}

/// A file of a secret as the sandbox's store holds it right now (no API round trip, for sampling during an apply).
pub fn stored_secret_file(
    clusters: &Clusters,
    zone: &str,
    name: &str,
    file: &str,
) -> Option<String> {
    use base64::Engine;
    let rt = kube_sandbox::resources::resource_type("secrets")?;
    let secret = clusters
        .sandbox
        .cluster(zone)?
        .store()
        .get(rt, Some(zone), name)?;
    let data = secret["data"][file].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// What a zone's node secret says of the rotation: the CAs its `ca.crt` trusts, and whether `node.crt` is the new
/// CA's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    trusted: Vec<&'static str>,
    node_from_new: bool,
}

#[test]
fn a_ca_rotation_trusts_both_then_reissues_then_drops_the_old_ca_one_node_at_a_time() {
    use terraform_provider_crdb::cockroach::pki;
    let clusters = Clusters::start(&["kube-dns", "kube-dns", "kube-dns"]);
    let ws = Workspace::new("");
    let base = configuration(&clusters, &ws, false, 3);
    ws.write_config(&base);
    ws.apply();
    let old_ca = ws.resource("crdb_multiregion_cluster.main")["ca_certificate"]
        .as_str()
        .unwrap()
        .to_string();
    settle(&clusters);

    let rotated = base.replacen(
        CLUSTER_BLOCK_END,
        &format!("  pki_generation = 2\n{CLUSTER_BLOCK_END}"),
        1,
    );
    ws.write_config(&rotated);
    let changes = ws.planned_unknown_attributes();
    for zone in ZONES {
        let changed = &changes
            .iter()
            .find(|(a, _)| *a == region_address(zone))
            .unwrap()
            .1;
        assert!(
            changed.contains(&"ca_rotation_completed".to_string()),
            "{zone}: {changed:?}"
        );
    }

    // Every zone's node secret, sampled through the apply: each distinct state in order.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let samples = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut raw: Vec<Vec<(String, String)>> = vec![Vec::new(); ZONES.len()];
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                for (i, zone) in ZONES.iter().enumerate() {
                    let ca = stored_secret_file(&clusters, zone, "cockroachdb.node", "ca.crt");
                    let node = stored_secret_file(&clusters, zone, "cockroachdb.node", "node.crt");
                    if let (Some(ca), Some(node)) = (ca, node) {
                        if raw[i].last() != Some(&(ca.clone(), node.clone())) {
                            raw[i].push((ca, node));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            raw
        });
        // Stops the sampler however the apply ends: a failed apply panics, and the scope would wait for it.
        struct StopSampling<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for StopSampling<'_> {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let stop = StopSampling(&sampling);
        let applied = Instant::now();
        ws.apply();
        eprintln!("CA rotation apply took {:?}", applied.elapsed());
        drop(stop);
        sampler.join().unwrap()
    });

    let seen = clusters.sandbox.world().unwrap().cockroach().availability();
    eprintln!("CA rotation: {seen:?}");
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{seen:?}");
    assert_eq!(seen.max_nodes_down, 1, "{seen:?}");
    assert_eq!(live_nodes(&clusters), (9, 9));

    let cluster = ws.resource("crdb_multiregion_cluster.main");
    let new_ca = cluster["ca_certificate"].as_str().unwrap().to_string();
    assert_ne!(new_ca, old_ca);
    assert_eq!(
        cluster["previous_ca_certificate"].as_str(),
        Some(old_ca.as_str())
    );
    let name = |fingerprint: &String| -> &'static str {
        if pki::bundle_fingerprints(&new_ca).contains(fingerprint) {
            "new"
        } else if pki::bundle_fingerprints(&old_ca).contains(fingerprint) {
            "old"
        } else {
            "foreign"
        }
    };
    for (zone, raw) in ZONES.iter().zip(&samples) {
        let mut states: Vec<Seen> = Vec::new();
        for (ca, node) in raw {
            let state = Seen {
                trusted: pki::bundle_fingerprints(ca).iter().map(name).collect(),
                node_from_new: pki::certificate_matches_ca(node, &new_ca),
            };
            if states.last() != Some(&state) {
                states.push(state);
            }
        }
        assert_eq!(
            states,
            [
                Seen {
                    trusted: vec!["old"],
                    node_from_new: false
                },
                Seen {
                    trusted: vec!["new", "old"],
                    node_from_new: false
                },
                Seen {
                    trusted: vec!["new", "old"],
                    node_from_new: true
                },
                Seen {
                    trusted: vec!["new"],
                    node_from_new: true
                },
            ],
            "zone {zone}: every intermediate ca.crt"
        );
        let root = secret_file(
            &clusters,
            zone,
            "default",
            &format!("cockroachdb.client.root.{zone}"),
            "client.root.crt",
        );
        assert!(
            pki::certificate_matches_ca(&root, &new_ca),
            "{zone}: the root client copy in default"
        );
        assert_eq!(
            ws.resource(&region_address(zone))["ca_rotation_completed"].as_str(),
            Some(
                pki::certificate_fingerprint_sha256(&old_ca)
                    .unwrap()
                    .as_str()
            )
        );
    }
    ws.assert_plan_empty("the CA rotation");

    // An unrelated change afterwards plans nothing of the rotation again.
    ws.write_config(&rotated.replacen("cockroach:v24.1.0", "cockroach:v24.1.26", 1));
    for (address, unknown) in ws.planned_unknown_attributes() {
        for settled in [
            "previous_ca_certificate",
            "ca_rotation_completed",
            "node_certificate",
        ] {
            assert!(
                !unknown.contains(&settled.to_string()),
                "{address}: {unknown:?}"
            );
        }
    }
}

#[test]
fn an_interrupted_ca_rotation_continues_at_the_next_apply() {
    use terraform_provider_crdb::cockroach::pki;
    let (clusters, ws, base) = crate::day2::three_settled_regions();

    let rotated = base.replacen(
        CLUSTER_BLOCK_END,
        &format!("  pki_generation = 2\n{CLUSTER_BLOCK_END}"),
        1,
    );
    // Too little time for three rolling restarts of every zone: the apply stops half-way.
    ws.write_config(&rotated.replace("update = \"5m\"", "update = \"3s\""));
    let cut = ws.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(
        cut.code, 0,
        "the rotation was meant to be cut short: {}",
        cut.stdout
    );
    let new_ca = ws.resource("crdb_multiregion_cluster.main")["ca_certificate"]
        .as_str()
        .unwrap()
        .to_string();
    let halfway = ZONES.iter().any(|zone| {
        let ca = secret_file(&clusters, zone, zone, "cockroachdb.node", "ca.crt");
        pki::bundle_fingerprints(&ca).len() == 2
    });
    assert!(halfway, "some zone stopped with both CAs trusted");
    let seen = clusters.sandbox.world().unwrap().cockroach().availability();
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{seen:?}");

    ws.write_config(&rotated);
    ws.apply();
    let seen = clusters.sandbox.world().unwrap().cockroach().availability();
    eprintln!("interrupted CA rotation, both applies: {seen:?}");
    assert_eq!(seen.unavailable_range_seconds, 0.0, "{seen:?}");
    assert_eq!(seen.ranges_lost, 0, "{seen:?}");
    assert!(seen.max_nodes_down <= 1, "{seen:?}");
    assert_eq!(live_nodes(&clusters), (9, 9));
    for zone in ZONES {
        let ca = secret_file(&clusters, zone, zone, "cockroachdb.node", "ca.crt");
        assert_eq!(
            pki::bundle_fingerprints(&ca),
            pki::bundle_fingerprints(&new_ca),
            "{zone}"
        );
        let node = secret_file(&clusters, zone, zone, "cockroachdb.node", "node.crt");
        assert!(pki::certificate_matches_ca(&node, &new_ca), "{zone}");
    }
    ws.assert_plan_empty("the continued rotation");
}
