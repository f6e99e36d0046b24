//! When DNS servers pick up configuration changes: kube-dns after its ConfigMap volume refresh, CoreDNS through
//! its `reload` plugin, or only after its pods restart when the plugin is missing.

mod support;

use kube_sandbox::bootstrap::COREFILE;
use serde_json::json;
use support::*;

/// DNS pods that start read the configuration there and then; changes are only interesting after that.
async fn dns_pods_running(sim: &Sim) {
    let ready_dns = || {
        pods_of(sim, "a", "kube-system")
            .iter()
            .filter(|p| p["metadata"]["labels"]["k8s-app"] == "kube-dns" && ready(p))
            .count()
    };
    assert!(eventually(20, || ready_dns() == 2).await);
    cluster_time(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_dns_applies_stub_domains_after_a_delay_and_ignores_invalid_ones() {
    let sim = Sim::start(&[("a", gke())]);
    dns_pods_running(&sim).await;
    sim.modify("a", "configmaps", "kube-system", "kube-dns", |cm| {
        cm["data"] = json!({"stubDomains": "{\"west.svc.cluster.local\": [\"203.0.113.9\"]}"})
    });
    let loaded = || {
        sim.world
            .dns_loaded("a")
            .forwards
            .contains_key("west.svc.cluster.local")
    };
    cluster_time(5).await;
    assert!(
        !loaded(),
        "kube-dns does not see a ConfigMap change at once"
    );
    assert!(
        eventually(20, loaded).await,
        "kube-dns picks the change up by itself"
    );

    sim.modify("a", "configmaps", "kube-system", "kube-dns", |cm| {
        cm["data"] = json!({"stubDomains": "{not json"})
    });
    cluster_time(90).await;
    assert!(
        loaded(),
        "an unparsable ConfigMap is ignored, the previous stub domains stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_without_reload_needs_a_restart() {
    let sim = Sim::start(&[("a", eks_like())]);
    dns_pods_running(&sim).await;
    let without_reload = COREFILE.replace("    reload\n", "");
    sim.modify("a", "configmaps", "kube-system", "coredns", |cm| {
        cm["data"]["Corefile"] = json!(without_reload)
    });
    assert!(
        eventually(20, || !sim.world.dns_loaded("a").reload_plugin).await,
        "the reload plugin reloads its own removal"
    );

    let block = "west.svc.cluster.local:53 {\n    forward . 203.0.113.9\n}\n";
    sim.modify("a", "configmaps", "kube-system", "coredns", |cm| {
        cm["data"]["Corefile"] = json!(format!("{without_reload}{block}"))
    });
    let loaded = || {
        sim.world
            .dns_loaded("a")
            .forwards
            .contains_key("west.svc.cluster.local")
    };
    cluster_time(120).await;
    assert!(
        !loaded(),
        "without reload, running CoreDNS pods keep their Corefile"
    );

    sim.modify("a", "deployments", "kube-system", "coredns", |d| {
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/restartedAt": "now"})
    });
    assert!(
        eventually(30, loaded).await,
        "restarted CoreDNS pods read the new Corefile"
    );
}
