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
    /// The Corefile text the running CoreDNS servers loaded.
    loaded_text: String,
}

/// What the cluster's DNS ConfigMaps describe now.
pub struct Configured {
    pub config: DnsConfig,
    /// kube-dns watches its ConfigMap by itself.
    pub self_watching: bool,
    /// What CoreDNS's `reload` plugin watches: the Corefile text (not imported files such as `coredns-custom`,
    /// which need a restart, as AKS documents).
    pub watched_text: String,
}

/// `Err` for a kube-dns ConfigMap kube-dns would reject.
pub fn configured(ctx: &ControllerContext) -> Result<Configured, String> {
    let cm_rt = ctx.rt("configmaps");
    let dep_rt = ctx.rt("deployments");
    if ctx
        .store
        .get(dep_rt, Some("kube-system"), "coredns")
        .is_some()
    {
        let core = ctx.store.get(cm_rt, Some("kube-system"), "coredns");
        let custom = ctx.store.get(cm_rt, Some("kube-system"), "coredns-custom");
        let watched_text = core
            .as_ref()
            .and_then(|c| c.pointer("/data/Corefile"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Ok(Configured {
            config: coredns_config(core.as_ref(), custom.as_ref()),
            self_watching: false,
            watched_text,
        })
    } else {
        let cm = ctx.store.get(cm_rt, Some("kube-system"), "kube-dns");
        kube_dns_config(cm.as_ref()).map(|config| Configured {
            config,
            self_watching: true,
            watched_text: String::new(),
        })
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
        let profile = ctx.world.cluster(&ctx.cluster_name).map(|c| c.profile);
        if profile.is_some_and(|p| p.dns == crate::world::DnsFlavour::CloudDns) {
            // No kube-dns pod runs to read the ConfigMap: what is written there is never loaded.
            return;
        }
        let loaded = ctx.world.dns_loaded(&ctx.cluster_name);
        let pods = ready_dns_pods(ctx);
        let new_pods = pods.iter().any(|p| !self.dns_pods.contains(p));
        self.dns_pods = pods;
        let Ok(now) = configured(ctx) else {
            self.pending = None;
            return;
        };
        let desired = now.config;
        if !self.started
            || (new_pods && (desired != loaded || now.watched_text != self.loaded_text))
        {
            self.started = true;
            self.pending = None;
            self.loaded_text = now.watched_text;
            ctx.world.set_dns_loaded(&ctx.cluster_name, desired);
            return;
        }
        if desired == loaded {
            self.pending = None;
            return;
        }
        let reloads =
            now.self_watching || (loaded.reload_plugin && now.watched_text != self.loaded_text);
        if !reloads {
            return;
        }
        match &self.pending {
            Some((cfg, due)) if *cfg == desired => {
                if Instant::now() >= *due {
                    ctx.world.set_dns_loaded(&ctx.cluster_name, desired);
                    self.loaded_text = now.watched_text;
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
