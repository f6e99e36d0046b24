//! The cloud's load-balancer controller: a LoadBalancer Service gets an address in status.loadBalancer.ingress
//! after a provisioning delay (an IP, or a hostname on clusters that behave like AWS). Internal-LB annotations
//! are accepted and recorded; internal load balancers get addresses from their own range.
//!
//! Under a cloud's rules ([`LbRules`]) a Service that cloud's controller refuses gets no address, ever, and the
//! Warning events the real controllers write:
//! - cloud-provider-aws (`pkg/providers/v1/aws.go`, `checkMixedProtocol` and `checkProtocol`), through the
//!   service controller of k8s.io/cloud-provider, which wraps the error: `SyncLoadBalancerFailed`, "Error syncing
//!   load balancer: failed to ensure load balancer: mixed protocol is not supported for LoadBalancer" (or
//!   "Protocol UDP not supported by LoadBalancer" for UDP on a classic ELB).
//! - cloud-provider-gcp (`providers/gce/gce_loadbalancer.go`, `processMixedProtocolCheck`):
//!   `LoadBalancerMixedProtocolNotSupported`, "LoadBalancer with multiple protocols are not supported.", then the
//!   service controller's `SyncLoadBalancerFailed` with the same error text as AWS's.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::{events, meta, ControllerContext, Reconcile};
use crate::world::{LbRules, LoadBalancer};

/// Cloud load balancers take tens of seconds to come up.
pub const PROVISIONING: Duration = Duration::from_secs(20);

const INTERNAL_ANNOTATIONS: &[(&str, &str)] = &[
    ("networking.gke.io/load-balancer-type", "internal"),
    ("cloud.google.com/load-balancer-type", "internal"),
    (
        "service.beta.kubernetes.io/aws-load-balancer-scheme",
        "internal",
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-internal",
        "true",
    ),
    (
        "service.beta.kubernetes.io/azure-load-balancer-internal",
        "true",
    ),
];

pub fn is_internal(svc: &Value) -> bool {
    INTERNAL_ANNOTATIONS.iter().any(|(k, v)| {
        meta::annotation(svc, k)
            .is_some_and(|a| a.eq_ignore_ascii_case(v) || (*v == "true" && a == "0.0.0.0/0"))
    })
}

/// The status a service should have given its load balancer (None: not a LoadBalancer, no ingress).
pub fn desired_status(lb: Option<&LoadBalancer>) -> Value {
    match lb {
        Some(LoadBalancer {
            hostname: Some(h), ..
        }) => json!({"loadBalancer": {"ingress": [{"hostname": h}]}}),
        Some(lb) => json!({"loadBalancer": {"ingress": [{"ip": lb.ip, "ipMode": "VIP"}]}}),
        None => json!({"loadBalancer": {}}),
    }
}

/// One Warning event a cloud's controller writes about a Service it refuses: reason, message, component.
pub type Refusal = Vec<(&'static str, String, &'static str)>;

const SERVICE_CONTROLLER: &str = "service-controller";

/// The service controller's event for an error of the cloud's `EnsureLoadBalancer`.
fn sync_failed(error: &str) -> (&'static str, String, &'static str) {
    (
        "SyncLoadBalancerFailed",
        format!("Error syncing load balancer: failed to ensure load balancer: {error}"),
        SERVICE_CONTROLLER,
    )
}

/// The events of a cloud that provisions nothing for `svc`, or None when it provisions it.
pub fn refusal(rules: LbRules, svc: &Value) -> Option<Refusal> {
    let protocols = meta::service_port_protocols(svc);
    let mixed = protocols.iter().any(|p| Some(p) != protocols.first());
    const MIXED: &str = "mixed protocol is not supported for LoadBalancer";
    match rules {
        LbRules::Permissive => None,
        LbRules::Eks => {
            let lb_type =
                meta::annotation(svc, "service.beta.kubernetes.io/aws-load-balancer-type");
            if lb_type == Some("external") {
                return None; // the AWS Load Balancer Controller's, not this controller's
            }
            if mixed {
                return Some(vec![sync_failed(MIXED)]);
            }
            let nlb = lb_type == Some("nlb");
            let refused = protocols
                .iter()
                .find(|p| !(**p == "TCP" || (nlb && **p == "UDP")))?;
            Some(vec![sync_failed(&format!(
                "Protocol {refused} not supported by LoadBalancer"
            ))])
        }
        LbRules::Gke => mixed.then(|| {
            vec![
                (
                    "LoadBalancerMixedProtocolNotSupported",
                    "LoadBalancer with multiple protocols are not supported.".to_string(),
                    "g-cloudprovider",
                ),
                sync_failed(MIXED),
            ]
        }),
    }
}

/// What the cloud is asked to provision for `svc`.
fn request(ctx: &ControllerContext, svc: &Value, uid: &str) -> LoadBalancer {
    let annotations: BTreeMap<String, String> = svc
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    LoadBalancer {
        cluster: ctx.cluster_name.clone(),
        namespace: meta::namespace(svc).to_string(),
        service: meta::name(svc).to_string(),
        service_uid: uid.to_string(),
        ip: String::new(),
        hostname: None,
        internal: is_internal(svc),
        annotations,
    }
}

#[derive(Default)]
pub struct Controller {
    first_seen: HashMap<String, Instant>,
    /// Services refused as they are now, by uid with the ports refused: their events are written once per shape.
    refused: HashMap<String, String>,
}

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let rt = ctx.rt("services");
        let services = ctx.store.list(rt, None);
        let profile = ctx
            .world
            .cluster(&ctx.cluster_name)
            .map(|c| c.profile)
            .unwrap_or_default();
        let hostnames = profile.lb_hostnames;
        let mut live = Vec::new();
        for svc in &services {
            let uid = meta::uid(svc).to_string();
            let wants_lb =
                meta::str_at(svc, "/spec/type") == Some("LoadBalancer") && !meta::is_deleting(svc);
            let lb = if wants_lb {
                live.push(uid.clone());
                if !self.first_seen.contains_key(&uid) {
                    events::record(
                        ctx,
                        svc,
                        events::NORMAL,
                        "EnsuringLoadBalancer",
                        "Ensuring load balancer",
                        "service-controller",
                    );
                }
                let refused = refusal(profile.lb_rules, svc);
                if let Some(events) = &refused {
                    let shape = svc
                        .pointer("/spec/ports")
                        .map(Value::to_string)
                        .unwrap_or_default();
                    if self.refused.get(&uid) != Some(&shape) {
                        for (reason, message, component) in events {
                            events::record(ctx, svc, events::WARNING, reason, message, component);
                        }
                        self.refused.insert(uid.clone(), shape);
                    }
                } else if self.refused.remove(&uid).is_some() {
                    // Provisioning starts once the Service is fixed.
                    self.first_seen.insert(uid.clone(), Instant::now());
                }
                let since = *self
                    .first_seen
                    .entry(uid.clone())
                    .or_insert_with(Instant::now);
                let ready = refused.is_none() && since.elapsed() >= ctx.clock.scaled(PROVISIONING);
                // A refused Service keeps a load balancer it already has (the real controllers leave it as it was).
                let existing = || {
                    ctx.world
                        .load_balancers()
                        .into_iter()
                        .find(|lb| lb.cluster == ctx.cluster_name && lb.service_uid == uid)
                };
                if ready {
                    Some(ctx.world.provision_lb(request(ctx, svc, &uid), hostnames))
                } else {
                    existing()
                }
            } else {
                ctx.world.release_lb(&ctx.cluster_name, &uid);
                None
            };
            let status = desired_status(lb.as_ref());
            let current = svc
                .pointer("/status/loadBalancer")
                .cloned()
                .unwrap_or(json!({}));
            if current != status["loadBalancer"] && (lb.is_some() || !wants_lb) {
                let mut updated = svc.clone();
                updated["status"]["loadBalancer"] = status["loadBalancer"].clone();
                let ensured = lb.is_some();
                if ctx
                    .update_status("services", updated, "service status")
                    .is_some()
                    && ensured
                {
                    events::record(
                        ctx,
                        svc,
                        events::NORMAL,
                        "EnsuredLoadBalancer",
                        "Ensured load balancer",
                        "service-controller",
                    );
                }
            }
        }
        // A deleted service's cloud load balancer is torn down with it.
        self.first_seen.retain(|uid, _| live.contains(uid));
        self.refused.retain(|uid, _| live.contains(uid));
        for lb in ctx
            .world
            .load_balancers()
            .into_iter()
            .filter(|lb| lb.cluster == ctx.cluster_name)
        {
            if !live.contains(&lb.service_uid) {
                ctx.world.release_lb(&ctx.cluster_name, &lb.service_uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_annotations_are_recognised() {
        let gke = json!({"metadata": {"annotations": {"networking.gke.io/load-balancer-type": "Internal"}}});
        let aws = json!({"metadata": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}}});
        let public = json!({"metadata": {}});
        assert!(is_internal(&gke) && is_internal(&aws) && !is_internal(&public));
    }

    #[test]
    fn status_is_ip_or_hostname() {
        let mut lb = LoadBalancer {
            cluster: "a".into(),
            namespace: "kube-system".into(),
            service: "kube-dns-lb".into(),
            service_uid: "u".into(),
            ip: "203.0.113.4".into(),
            hostname: None,
            internal: false,
            annotations: BTreeMap::new(),
        };
        assert_eq!(
            desired_status(Some(&lb))["loadBalancer"]["ingress"][0]["ip"],
            "203.0.113.4"
        );
        lb.hostname = Some("x.elb.sandbox.invalid".into());
        assert_eq!(
            desired_status(Some(&lb))["loadBalancer"]["ingress"][0]["hostname"],
            "x.elb.sandbox.invalid"
        );
        assert_eq!(desired_status(None), json!({"loadBalancer": {}}));
    }
}
