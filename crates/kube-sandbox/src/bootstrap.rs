//! What a fresh cluster contains before anyone touches it: the system namespaces, three nodes, and the DNS
//! add-on of its kind (GKE's kube-dns with its `kube-dns` ConfigMap, or CoreDNS with an EKS/kind-like Corefile).

use serde_json::{json, Value};

use crate::store::{resource_type, Store};
use crate::world::DnsFlavour;

pub const COREFILE: &str = ".:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
";

/// Populates an empty store as a fresh cluster named `sandbox`.
pub fn bootstrap(store: &Store, dns: DnsFlavour) {
    bootstrap_named(store, dns, "sandbox");
}

/// Populates an empty store as a fresh cluster; node names start with `cluster`.
pub fn bootstrap_named(store: &Store, dns: DnsFlavour, cluster: &str) {
    for (plural, obj) in fresh_objects(dns, cluster) {
        let rt = resource_type(plural).unwrap_or_else(|| panic!("{plural} in the resource table"));
        match store.create(rt, obj) {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => panic!("bootstrap {plural}: {e}"),
        }
    }
}

/// The objects of a fresh cluster, in creation order (namespaces first).
pub fn fresh_objects(dns: DnsFlavour, cluster: &str) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        out.push((
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        ));
    }
    for i in 0..3 {
        out.push(("nodes", node(&format!("{cluster}-default-pool-{i}"), i)));
    }
    out.push(("storageclasses", default_storage_class()));
    out.push(("services", json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "KubeDNS"}},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    })));
    match dns {
        DnsFlavour::KubeDns | DnsFlavour::CloudDns => {
            out.push((
                "configmaps",
                json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "kube-dns", "namespace": "kube-system",
                                 "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"}},
                }),
            ));
            let mut deployment = dns_deployment("kube-dns", kube_dns_containers(), "kube-dns");
            if dns == DnsFlavour::CloudDns {
                // The platform resolves instead: the add-on stays, scaled to nothing.
                deployment["spec"]["replicas"] = json!(0);
            }
            out.push(("deployments", deployment));
        }
        DnsFlavour::CoreDns => {
            out.push(("configmaps", json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "coredns", "namespace": "kube-system",
                             "labels": {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}},
                "data": {"Corefile": COREFILE},
            })));
            out.push((
                "deployments",
                dns_deployment("coredns", coredns_containers(), "coredns"),
            ));
        }
    }
    out
}

/// The name of the default StorageClass of a fresh cluster.
pub const DEFAULT_STORAGE_CLASS: &str = "standard";

/// The default StorageClass, expandable like the CSI-backed defaults of GKE, EKS and AKS. Tests that need a class
/// that cannot grow create their own.
pub fn default_storage_class() -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_STORAGE_CLASS,
                     "annotations": {crate::admission::DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": "volumes.kube-sandbox.local",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
    })
}

fn node(name: &str, i: u32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": format!("zone-{}", ["a", "b", "c"][i as usize % 3]),
        }},
        "spec": {"podCIDR": format!("10.{}.0.0/24", 64 + i)},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": format!("10.128.0.{}", 10 + i)}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "16393216Ki", "pods": "110"},
            "allocatable": {"cpu": "3920m", "memory": "13482688Ki", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.33.5", "containerRuntimeVersion": "containerd://1.7.27", "osImage": "Container-Optimized OS", "architecture": "amd64", "operatingSystem": "linux"},
        },
    })
}

fn dns_deployment(name: &str, containers: Value, config_volume: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "10%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": name,
                    "dnsPolicy": "Default",
                    "containers": containers,
                    "volumes": [{"name": "config-volume", "configMap": {"name": config_volume, "optional": true}}],
                },
            },
        },
    })
}

fn kube_dns_containers() -> Value {
    json!([
        {"name": "kubedns", "image": "gke.gcr.io/k8s-dns-kube-dns:1.23.0-gke.9",
         "args": ["--domain=cluster.local.", "--dns-port=10053", "--config-dir=/kube-dns-config", "--v=2"],
         "ports": [{"containerPort": 10053, "name": "dns-local", "protocol": "UDP"}],
         "readinessProbe": {"httpGet": {"path": "/readiness", "port": 8081}, "initialDelaySeconds": 3},
         "volumeMounts": [{"name": "config-volume", "mountPath": "/kube-dns-config"}]},
        {"name": "dnsmasq", "image": "gke.gcr.io/k8s-dns-dnsmasq-nanny:1.23.0-gke.9",
         "args": ["-v=2", "-logtostderr", "-configDir=/etc/k8s/dns/dnsmasq-nanny", "-restartDnsmasq=true", "--",
                  "-k", "--cache-size=1000", "--no-negcache", "--server=/cluster.local/127.0.0.1#10053"],
         "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"}],
         "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/k8s/dns/dnsmasq-nanny"}]},
        {"name": "sidecar", "image": "gke.gcr.io/k8s-dns-sidecar:1.23.0-gke.9",
         "args": ["--v=2", "--logtostderr", "--probe=kubedns,127.0.0.1:10053,kubernetes.default.svc.cluster.local,5,SRV"],
         "ports": [{"containerPort": 10054, "name": "metrics", "protocol": "TCP"}]},
    ])
}

fn coredns_containers() -> Value {
    json!([
        {"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.1",
         "args": ["-conf", "/etc/coredns/Corefile"],
         "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"}, {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"}],
         "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}},
         "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}]},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_clusters_have_their_dns_addon() {
        let gke = fresh_objects(DnsFlavour::KubeDns, "a");
        assert!(gke
            .iter()
            .any(|(p, o)| *p == "configmaps" && o["metadata"]["name"] == "kube-dns"));
        assert!(gke
            .iter()
            .any(|(p, o)| *p == "deployments" && o["metadata"]["name"] == "kube-dns"));
        let eks = fresh_objects(DnsFlavour::CoreDns, "b");
        let cm = eks
            .iter()
            .find(|(p, o)| *p == "configmaps" && o["metadata"]["name"] == "coredns")
            .unwrap();
        let cfg = crate::cockroach::dns::coredns_config(Some(&cm.1), None);
        assert!(cfg.reload_plugin && cfg.forwards.is_empty());
        let cloud = fresh_objects(DnsFlavour::CloudDns, "c");
        let kube_dns = cloud
            .iter()
            .find(|(p, o)| *p == "deployments" && o["metadata"]["name"] == "kube-dns")
            .unwrap();
        assert_eq!(kube_dns.1["spec"]["replicas"], 0);
    }

    #[test]
    fn bootstrap_populates_a_store() {
        let store = Store::new(1);
        bootstrap(&store, DnsFlavour::KubeDns);
        let ns = store.list(resource_type("namespaces").unwrap(), None);
        assert_eq!(ns.len(), 4);
        assert!(store
            .get(
                resource_type("deployments").unwrap(),
                Some("kube-system"),
                "kube-dns"
            )
            .is_some());
        let class = store
            .get(resource_type("storageclasses").unwrap(), None, "standard")
            .expect("a default StorageClass");
        assert_eq!(class["allowVolumeExpansion"], true);
        assert!(crate::admission::is_default_class(&class));
    }
}
