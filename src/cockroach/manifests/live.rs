//! What the resource reads back from a live StatefulSet to detect drift and follow a rollout.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Container;

use super::command::locality;
use super::names;
use super::spec::ZoneSpec;

/// The parts of a live StatefulSet the `crdb_region` resource compares with its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedNodes {
    /// The image of the `cockroachdb` container in the pod template (what pods roll towards).
    pub image: Option<String>,
    pub replicas: i32,
    /// The StatefulSet controller has seen the latest spec.
    pub observed_current_spec: bool,
    pub ready_replicas: i32,
    pub updated_replicas: i32,
    /// Every pod runs the current template (`currentRevision == updateRevision`).
    pub rollout_complete: bool,
    /// The controller reports pods still on an older revision than the template's (both revisions known and
    /// different): a rollout under way, or one an interrupted apply left held part-way.
    pub older_revision_running: bool,
}

impl ObservedNodes {
    /// The rollout is over and every node is ready: scale and upgrade steps may continue.
    pub fn settled(&self) -> bool {
        self.observed_current_spec
            && self.rollout_complete
            && self.ready_replicas == self.replicas
            && self.updated_replicas == self.replicas
    }
}

pub fn observe_nodes(sts: &StatefulSet) -> ObservedNodes {
    let spec = sts.spec.as_ref();
    let image = spec
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|pod| pod.containers.iter().find(|c| c.name == names::CONTAINER))
        .and_then(|c| c.image.clone());
    // An absent `replicas` means one, as the API server defaults it.
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1);
    let status = sts.status.as_ref();
    let observed_current_spec = match (
        sts.metadata.generation,
        status.and_then(|s| s.observed_generation),
    ) {
        (Some(generation), Some(observed)) => observed >= generation,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let rollout_complete = status
        .is_some_and(|s| s.current_revision.is_some() && s.current_revision == s.update_revision);
    let older_revision_running = status.is_some_and(|s| {
        s.current_revision.is_some()
            && s.update_revision.is_some()
            && s.current_revision != s.update_revision
    });
    ObservedNodes {
        image,
        replicas,
        observed_current_spec,
        ready_replicas: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        updated_replicas: status.and_then(|s| s.updated_replicas).unwrap_or(0),
        rollout_complete,
        older_revision_running,
    }
}

/// The claim template of the nodes' data volumes as a live StatefulSet has it: what claims of new
/// ordinals get, and what cannot change while the StatefulSet exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedDataVolumes {
    /// `resources.requests.storage`, as stored.
    pub size: Option<String>,
    /// `storageClassName`; `None` for the cluster's default class.
    pub class: Option<String>,
}

pub fn observe_data_volumes(sts: &StatefulSet) -> Option<ObservedDataVolumes> {
    let template = sts
        .spec
        .as_ref()?
        .volume_claim_templates
        .as_ref()?
        .iter()
        .find(|t| t.metadata.name.as_deref() == Some(names::DATA_VOLUME))?;
    let spec = template.spec.as_ref();
    Some(ObservedDataVolumes {
        size: spec
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone()),
        class: spec.and_then(|s| s.storage_class_name.clone()),
    })
}

/// Whether the StatefulSet's pod template was written by this provider (it carries our managed-by label). An
/// adopted zone's template is not, until the first change that needs a template of ours.
pub fn template_is_ours(sts: &StatefulSet) -> bool {
    sts.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
        .and_then(|l| l.get(names::LABEL_MANAGED_BY))
        .is_some_and(|v| v == names::MANAGER)
}

/// The CockroachDB container of a live StatefulSet's pod template.
pub fn node_container(sts: &StatefulSet) -> Option<&Container> {
    sts.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == names::CONTAINER)
}

/// The `--locality` a live node container starts with, read through shell wrappers.
pub fn live_locality(sts: &StatefulSet) -> Option<String> {
    let container = node_container(sts)?;
    let words: Vec<&str> = container
        .command
        .iter()
        .chain(container.args.iter())
        .flatten()
        .flat_map(|part| part.split_whitespace())
        .collect();
    words
        .iter()
        .enumerate()
        .find_map(|(i, word)| match word.strip_prefix("--locality") {
            Some(rest) if rest.starts_with('=') => Some(rest[1..].to_owned()),
            Some("") => words.get(i + 1).map(|w| (*w).to_owned()),
            _ => None,
        })
}

/// What becomes of the pod template when a StatefulSet is applied over a live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFit {
    /// The rendered template is applied: ours already, or the configuration asks for a change.
    Rendered,
    /// An adopted zone's template is left as it runs: rewriting it would restart every node for nothing.
    KeptLive,
}

/// Makes `desired` applicable over `live`. The fields Kubernetes never lets change (selector, service name, pod
/// management policy, volume claim templates) are taken from the live object, so the apply is not refused and
/// co-owns them at their live values. A template this provider has not written yet is left out of the apply
/// (kept as it runs) unless the image or the locality must change or `change_requested` (the configuration
/// changed something else the template holds), each of which needs a rolling restart anyway.
pub fn fit_to_live(
    desired: &mut StatefulSet,
    live: &StatefulSet,
    spec: &ZoneSpec,
    change_requested: bool,
) -> TemplateFit {
    let (Some(want), Some(have)) = (desired.spec.as_mut(), live.spec.as_ref()) else {
        return TemplateFit::Rendered;
    };
    want.selector = have.selector.clone();
    want.service_name = have.service_name.clone();
    want.pod_management_policy = have.pod_management_policy.clone();
    want.volume_claim_templates = have.volume_claim_templates.clone().map(|claims| {
        claims
            .into_iter()
            .map(|mut claim| {
                claim.status = None;
                claim
            })
            .collect()
    });
    let asks_for_change = change_requested
        || observe_nodes(live).image.as_deref() != Some(spec.image.as_str())
        || live_locality(live).as_deref() != Some(locality(spec).as_str());
    if template_is_ours(live) || asks_for_change {
        TemplateFit::Rendered
    } else {
        want.template = Default::default();
        TemplateFit::KeptLive
    }
}
