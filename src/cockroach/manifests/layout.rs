//! How a zone's objects are named and how its nodes are selected. A zone this provider creates uses its own names;
//! a zone adopted from the original setup script keeps the script's, because a StatefulSet's selector can never
//! change and because peers already forward to the script's DNS load balancer.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;

use super::names::{self, node_selector};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// Objects created by this provider.
    #[default]
    Provider,
    /// Objects created by the original multi-region setup script (`setup.py` and its manifests).
    SetupScript,
}

/// The label the setup script's StatefulSet selects its pods by (`app: cockroachdb`).
const SCRIPT_SELECTOR: (&str, &str) = ("app", names::APP);
const SCRIPT_PDB: &str = "cockroachdb-budget";
const SCRIPT_DNS_LOAD_BALANCER: &str = "kube-dns-lb";
const SCRIPT_INIT_JOB: &str = "cluster-init-secure";

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Provider, Layout::SetupScript];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Provider => "provider",
            Layout::SetupScript => "setup-script",
        }
    }

    pub fn parse(text: &str) -> Option<Layout> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }

    /// The layout of a zone whose live StatefulSet selects `selector`: only the script selects by `app` alone.
    pub fn of_live_selector(selector: Option<&BTreeMap<String, String>>) -> Layout {
        match selector {
            Some(labels) if *labels == Layout::SetupScript.node_selector() => Layout::SetupScript,
            _ => Layout::Provider,
        }
    }

    /// The layout of a zone whose live StatefulSet is `set` (ours when there is none).
    pub fn of_statefulset(set: Option<&StatefulSet>) -> Layout {
        Layout::of_live_selector(
            set.and_then(|s| s.spec.as_ref())
                .and_then(|s| s.selector.match_labels.as_ref()),
        )
    }

    /// What the services, the PodDisruptionBudget and the StatefulSet select: the node pods only.
    pub fn node_selector(self) -> BTreeMap<String, String> {
        match self {
            Layout::Provider => node_selector(),
            Layout::SetupScript => [SCRIPT_SELECTOR]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn pod_disruption_budget_name(self) -> &'static str {
        match self {
            Layout::Provider => names::PDB,
            Layout::SetupScript => SCRIPT_PDB,
        }
    }

    /// The script made one DNS load balancer per Kubernetes cluster, as it put one zone in each.
    pub fn dns_load_balancer_name(self, zone: &str) -> String {
        match self {
            Layout::Provider => names::dns_load_balancer_name(zone),
            Layout::SetupScript => SCRIPT_DNS_LOAD_BALANCER.to_owned(),
        }
    }

    /// Client pods the script's users started in `default` mount `cockroachdb.client.root`; it keeps that name.
    pub fn default_client_root_secret_name(self, zone: &str) -> String {
        match self {
            Layout::Provider => names::default_client_root_secret_name(zone),
            Layout::SetupScript => names::CLIENT_ROOT_SECRET.to_owned(),
        }
    }

    /// Whether a live object's labels mark it as made by this layout's manifests. Only the script's objects are
    /// recognised this way (`app: cockroachdb`); the provider's own are known by name and removed with the zone.
    pub fn made(self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self == Layout::SetupScript
            && labels
                .and_then(|l| l.get(SCRIPT_SELECTOR.0))
                .map(String::as_str)
                == Some(SCRIPT_SELECTOR.1)
    }

    /// The Job that ran `cockroach init` for this layout.
    pub fn init_job_name(self) -> &'static str {
        match self {
            Layout::Provider => names::INIT_JOB,
            Layout::SetupScript => SCRIPT_INIT_JOB,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_script_is_recognised_by_its_selector_only() {
        for layout in Layout::ALL {
            assert_eq!(Layout::parse(layout.as_str()), Some(layout));
            assert_eq!(
                Layout::of_live_selector(Some(&layout.node_selector())),
                layout
            );
        }
        assert_eq!(Layout::parse("helm"), None);
        assert_eq!(Layout::of_live_selector(None), Layout::Provider);
        let mut wider = Layout::SetupScript.node_selector();
        wider.insert("tier".into(), "db".into());
        assert_eq!(Layout::of_live_selector(Some(&wider)), Layout::Provider);
    }

    #[test]
    fn only_the_script_layout_recognises_its_objects_by_label() {
        let app: BTreeMap<String, String> = [("app".to_string(), "cockroachdb".to_string())].into();
        assert!(Layout::SetupScript.made(Some(&app)));
        assert!(!Layout::Provider.made(Some(&app)));
        assert!(!Layout::SetupScript.made(None));
    }

    #[test]
    fn the_script_layout_keeps_the_script_names() {
        let script = Layout::SetupScript;
        assert_eq!(script.dns_load_balancer_name("us-east1-b"), "kube-dns-lb");
        assert_eq!(
            script.default_client_root_secret_name("us-east1-b"),
            "cockroachdb.client.root"
        );
        assert_eq!(script.pod_disruption_budget_name(), "cockroachdb-budget");
        assert_eq!(
            Layout::Provider.dns_load_balancer_name("us-east1-b"),
            "crdb-dns-us-east1-b"
        );
    }
}
