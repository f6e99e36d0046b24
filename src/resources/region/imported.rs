//! What an import through a kubeconfig context makes of a running zone's snapshot (see `read.rs`), so that the
//! plan after import compares the configuration with what runs, not with nothing.
use super::model::RegionModel;
use super::read::ZoneSnapshot;
use crate::cockroach::manifests::{self, kind_annotations, names, Layout, LoadBalancerKind};
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use k8s_openapi::api::apps::v1::StatefulSet;
use std::collections::BTreeMap;

/// The region an import adopts, or why there is nothing to adopt: a zone without its StatefulSet is not running
/// and cannot be imported this way.
pub(super) fn imported(live: &ZoneSnapshot, cluster: &str) -> Result<RegionModel, Diagnostics> {
    let Some(set) = &live.set else {
        let zone = &live.zone;
        return Err(Diagnostics::with_error(
            format!("Nothing to import in zone {zone}"),
            format!(
                "There is no StatefulSet {zone}/{} on {cluster}. Import by zone alone to have the next apply create it.",
                names::STATEFULSET,
            ),
        ));
    };
    Ok(imported_model(live, set))
}

/// Annotations tools put on objects that say nothing about the user's intent.
const TOOL_ANNOTATIONS: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];

/// The region's attributes as the live zone shows them. What only configuration says (the connection, the
/// cluster, timeouts, the resolver) stays unset; `deletion_protection` takes its default, the safe side.
fn imported_model(live: &ZoneSnapshot, set: &StatefulSet) -> RegionModel {
    let zone = live.zone.as_str();
    let spec = set.spec.as_ref();
    let quantity = |limits: bool, resource: &str| -> Attr<String> {
        super::read::live_node_resource(set, limits, resource).into()
    };
    let claim = spec
        .and_then(|s| s.volume_claim_templates.as_ref())
        .and_then(|claims| {
            claims
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(names::DATA_VOLUME))
        })
        .and_then(|c| c.spec.as_ref());
    let region = manifests::live_locality(set).and_then(|locality| {
        locality
            .split(',')
            .find_map(|tier| tier.strip_prefix("region=").map(str::to_owned))
    });
    let annotations = live
        .dns_load_balancer
        .as_ref()
        .and_then(|s| s.metadata.annotations.clone())
        .unwrap_or_default();
    // The public kind has no annotations of its own: it is what no other kind's annotations match.
    let kind = LoadBalancerKind::ALL
        .into_iter()
        .filter(|kind| *kind != LoadBalancerKind::Public)
        .find(|kind| {
            kind_annotations(*kind)
                .iter()
                .all(|(k, v)| annotations.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or(LoadBalancerKind::Public);
    let extra: BTreeMap<String, String> = annotations
        .into_iter()
        .filter(|(k, _)| !TOOL_ANNOTATIONS.contains(&k.as_str()))
        .filter(|(k, _)| !kind_annotations(kind).iter().any(|(own, _)| own == k))
        .collect();
    let layout = Layout::of_statefulset(Some(set));
    // The key stays in the zone's Secret: an import cannot know whether the cluster keeps keys in the state.
    let node_certificate = live.node_certificate().map(|(cert, _)| cert).into();
    let mut model = RegionModel {
        id: Attr::Known(zone.to_owned()),
        zone: Attr::Known(zone.to_owned()),
        namespace: Attr::Known(zone.to_owned()),
        region: region.into(),
        image: manifests::observe_nodes(set).image.into(),
        replicas: Attr::Known(i64::from(manifests::observe_nodes(set).replicas)),
        storage_size: claim
            .and_then(|c| c.resources.as_ref()?.requests.as_ref()?.get("storage"))
            .map(|q| q.0.clone())
            .into(),
        storage_class: claim.and_then(|c| c.storage_class_name.clone()).into(),
        cpu_request: quantity(false, "cpu"),
        cpu_limit: quantity(true, "cpu"),
        memory_request: quantity(false, "memory"),
        memory_limit: quantity(true, "memory"),
        dns_load_balancer: Attr::Known(kind.as_str().to_owned()),
        dns_load_balancer_annotations: if extra.is_empty() {
            Attr::Null
        } else {
            Attr::Known(extra)
        },
        deletion_protection: Attr::Known(true),
        dns_address: live.dns_address.clone().into(),
        dns_protocol: live
            .dns_load_balancer
            .as_ref()
            .and_then(manifests::live_dns_protocol)
            .map(|p| p.attribute_value().to_owned())
            .into(),
        node_certificate,
        initialized: Attr::Known(live.initialized()),
        missing_objects: Attr::Known(Vec::new()),
        layout: Attr::Known(layout.as_str().to_owned()),
        ..RegionModel::default()
    };
    super::spec::set_service_addresses(&mut model, zone);
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn imported(
        zone: &str,
        set: serde_json::Value,
        lb_annotations: serde_json::Value,
    ) -> RegionModel {
        let set: StatefulSet = serde_json::from_value(set).unwrap();
        let live = ZoneSnapshot {
            zone: zone.to_string(),
            dns_load_balancer: Some(
                serde_json::from_value(
                    json!({"metadata": {"name": "lb", "annotations": lb_annotations}}),
                )
                .unwrap(),
            ),
            dns_address: Some("192.0.2.10".into()),
            node_secret: Some(
                serde_json::from_value(json!({"metadata": {"name": "cockroachdb.node"}, "data": {
                    "node.crt": "Q0VSVA==", "node.key": "S0VZ"
                }}))
                .unwrap(),
            ),
            init_record: Some(super::super::read::InitRecord {
                markers: vec![serde_json::from_value(
                    json!({"metadata": {"name": "crdb-initialized-main"}}),
                )
                .unwrap()],
                init_job: None,
            }),
            ..ZoneSnapshot::default()
        };
        imported_model(&live, &set)
    }

    #[test]
    fn a_zone_of_ours_reads_back_as_configured() {
        let spec = manifests::ZoneSpec {
            dns_load_balancer: manifests::DnsLoadBalancer {
                kind: LoadBalancerKind::GkeInternal,
                extra_annotations: [("team".to_string(), "db".to_string())].into(),
                protocol: None,
            },
            ..crate::cockroach::manifests::spec_fixture()
        };
        let set = serde_json::to_value(manifests::stateful_set(&spec)).unwrap();
        let lb = serde_json::to_value(manifests::dns_load_balancer(&spec)).unwrap();
        let mut annotations = lb["metadata"]["annotations"].clone();
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = json!("{}");
        let model = imported(&spec.zone, set, annotations);
        assert_eq!(model.region, Attr::Known("us-east1".into()));
        assert_eq!(model.replicas, Attr::Known(3));
        assert_eq!(model.storage_size, Attr::Known("100Gi".into()));
        assert_eq!(model.storage_class, Attr::Null);
        assert_eq!(model.cpu_request, Attr::Known("2".into()));
        assert_eq!(model.memory_limit, Attr::Known("8Gi".into()));
        assert_eq!(model.dns_load_balancer, Attr::Known("gke-internal".into()));
        assert_eq!(
            model.dns_load_balancer_annotations,
            Attr::Known([("team".to_string(), "db".to_string())].into())
        );
        assert_eq!(model.layout, Attr::Known("provider".into()));
        assert_eq!(model.dns_address, Attr::Known("192.0.2.10".into()));
        assert!(model.node_certificate.known().is_some());
        assert_eq!(
            model.node_private_key,
            Attr::Null,
            "the key stays in the zone's Secret"
        );
        assert_eq!(model.initialized, Attr::Known(true));
        assert_eq!(model.deletion_protection, Attr::Known(true));
        assert!(model.cluster.is_null() && model.kubernetes.is_null());
    }

    #[test]
    fn a_script_zone_reads_as_public_without_resources() {
        let set = json!({
            "metadata": {"name": "cockroachdb"},
            "spec": {
                "selector": {"matchLabels": {"app": "cockroachdb"}},
                "replicas": 3,
                "serviceName": "cockroachdb",
                "template": {"metadata": {"labels": {"app": "cockroachdb"}}, "spec": {"containers": [{
                    "name": "cockroachdb", "image": "cockroachdb/cockroach:v24.1.0",
                    "command": ["/bin/bash", "-ecx", "exec /cockroach/cockroach start --locality zone=z1"]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "datadir"},
                    "spec": {"resources": {"requests": {"storage": "100Gi"}}}}]
            }
        });
        let model = imported("z1", set, json!({}));
        assert_eq!(model.layout, Attr::Known("setup-script".into()));
        assert_eq!(
            model.region,
            Attr::Null,
            "the script's locality without a region"
        );
        assert_eq!(model.cpu_request, Attr::Null);
        assert_eq!(model.dns_load_balancer, Attr::Known("public".into()));
        assert_eq!(model.dns_load_balancer_annotations, Attr::Null);
        assert_eq!(model.storage_size, Attr::Known("100Gi".into()));
    }

    #[test]
    fn a_zone_without_its_statefulset_is_not_imported() {
        let live = ZoneSnapshot {
            zone: "z1".into(),
            ..ZoneSnapshot::default()
        };
        let diags = super::imported(&live, "https://10.0.0.1").unwrap_err();
        assert_eq!(diags.0[0].summary, "Nothing to import in zone z1");
        assert!(diags.0[0]
            .detail
            .contains("StatefulSet z1/cockroachdb on https://10.0.0.1"));
    }
}
