//! What the resource reads back from a live StatefulSet to detect drift and follow a rollout.

use k8s_openapi::api::apps::v1::StatefulSet;

use super::names;

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
    ObservedNodes {
        image,
        replicas,
        observed_current_spec,
        ready_replicas: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        updated_replicas: status.and_then(|s| s.updated_replicas).unwrap_or(0),
        rollout_complete,
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
