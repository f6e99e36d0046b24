//! When a cluster's DNS servers pick up their configuration. CoreDNS with the `reload` plugin re-reads its
//! Corefile by itself (the kubelet refreshes the mounted ConfigMap, then reload's ~30 s check fires); without the
//! plugin only new DNS pods see a change. kube-dns watches its `kube-system/kube-dns` ConfigMap through a mounted
//! volume (`--config-dir`, polled every 10 s, after the kubelet's volume refresh), so it applies stub-domain
//! changes after a similar delay without a restart; it ignores a ConfigMap it cannot parse and keeps what it had.
//! Either way, DNS pods that (re)start load the current configuration at once.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{meta, ControllerContext, Reconcile};
use crate::cockroach::dns::{coredns_config, kube_dns_config, DnsConfig};

pub const RELOAD_DELAY: Duration = Duration::from_secs(30);
pub const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

#[derive(Default)]
pub struct Controller {
    started: bool,
    dns_pods: BTreeSet<String>,
    pending: Option<(DnsConfig, Instant)>,
}

/// The configuration the cluster's DNS ConfigMaps describe now, and whether the running servers reload it by
/// themselves. `Err` for a kube-dns ConfigMap kube-dns would reject.
pub fn configured(ctx: &ControllerContext) -> Result<(DnsConfig, bool), String> {
    let cm_rt = ctx.rt("configmaps");
    let dep_rt = ctx.rt("deployments");
    let coredns = ctx
        .store
        .get(dep_rt, Some("kube-system"), "coredns")
        .is_some();
    if coredns {
        let core = ctx.store.get(cm_rt, Some("kube-system"), "coredns");
        let custom = ctx.store.get(cm_rt, Some("kube-system"), "coredns-custom");
        Ok((coredns_config(core.as_ref(), custom.as_ref()), false))
    } else {
        let cm = ctx.store.get(cm_rt, Some("kube-system"), "kube-dns");
        kube_dns_config(cm.as_ref()).map(|c| (c, true))
    }
}

pub fn ready_dns_pods(ctx: &ControllerContext) -> BTreeSet<String> {
    ctx.store
        .list(ctx.rt("pods"), Some("kube-system"))
        .iter()
        .filter(|p| meta::label(p, DNS_LABEL.0) == Some(DNS_LABEL.1) && meta::pod_is_ready(p))
        .map(|p| meta::uid(p).to_string())
        .collect()
}

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let loaded = ctx.world.dns_loaded(&ctx.cluster_name);
        let pods = ready_dns_pods(ctx);
        let new_pods = pods.iter().any(|p| !self.dns_pods.contains(p));
        self.dns_pods = pods;
        let Ok((desired, watches)) = configured(ctx) else {
            self.pending = None;
            return;
        };
        if !self.started || (new_pods && desired != loaded) {
            self.started = true;
            self.pending = None;
            ctx.world.set_dns_loaded(&ctx.cluster_name, desired);
            return;
        }
        if desired == loaded {
            self.pending = None;
            return;
        }
        if !(watches || loaded.reload_plugin) {
            return;
        }
        match &self.pending {
            Some((cfg, due)) if *cfg == desired => {
                if Instant::now() >= *due {
                    ctx.world.set_dns_loaded(&ctx.cluster_name, desired);
                    self.pending = None;
                }
            }
            _ => self.pending = Some((desired, Instant::now() + ctx.clock.scaled(RELOAD_DELAY))),
        }
    }
}

/// Whether a Service is a cluster DNS load balancer: type LoadBalancer in kube-system selecting the DNS pods.
pub fn is_dns_lb(svc: &Value) -> bool {
    meta::namespace(svc) == "kube-system"
        && meta::str_at(svc, "/spec/type") == Some("LoadBalancer")
        && svc
            .pointer("/spec/selector")
            .and_then(|s| s.get(DNS_LABEL.0))
            .and_then(Value::as_str)
            == Some(DNS_LABEL.1)
}
