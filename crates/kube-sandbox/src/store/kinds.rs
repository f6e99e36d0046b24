//! What the API server does for some kinds beyond the rules every object follows, declared once per kind: which
//! kinds count generations, which delete by orphaning, which get values allocated or admitted on create, and which
//! a deletion holds beyond `metadata.finalizers`. The store asks `of(rt)` and never names a kind itself.

use serde_json::{json, Value};

use super::{ApiError, Inner, Propagation, ResourceType};
use crate::{admission, defaults};

/// One kind's behaviour; every method defaults to "nothing special".
pub(super) trait Kind: Sync {
    /// A change outside metadata and status bumps `metadata.generation`.
    fn tracks_generation(&self) -> bool {
        false
    }

    /// The propagation of a delete that names none.
    fn default_propagation(&self) -> Propagation {
        Propagation::Background
    }

    /// Admission on create, before validation: defaults that depend on other objects.
    fn admit_create(&self, _obj: &mut Value, _store: &Inner) {}

    /// Values the server allocates on create, once the name is known to be free.
    fn allocate(
        &self,
        _obj: &mut Value,
        _store: &mut Inner,
        _dry_run: bool,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// Defaults that name the object's uid, set once it has one.
    fn default_with_uid(&self, _obj: &mut Value) {}

    /// Admission on a spec update, after validation.
    fn admit_update(&self, _new: &Value, _old: &Value, _store: &Inner) -> Result<(), ApiError> {
        Ok(())
    }

    /// Whether the object stays while terminating for a reason besides `metadata.finalizers`.
    fn held_on_delete(&self, _obj: &Value) -> bool {
        false
    }

    /// What a deletion that has to wait marks on the object besides its deletionTimestamp.
    fn mark_terminating(&self, _obj: &mut Value) {}

    /// The `deletionGracePeriodSeconds` such a deletion records: 0, as kube-apiserver's generic storage writes
    /// it; None for a kind whose own storage writes none.
    fn deletion_grace_period(&self) -> Option<i64> {
        Some(0)
    }
}

/// The behaviour of `rt`'s kind.
pub(super) fn of(rt: &ResourceType) -> &'static dyn Kind {
    KINDS
        .iter()
        .find(|(kind, _)| *kind == rt.kind)
        .map_or(&Plain, |(_, behaviour)| *behaviour)
}

static KINDS: &[(&str, &dyn Kind)] = &[
    ("Pod", &Generational),
    ("StatefulSet", &Generational),
    ("Deployment", &Generational),
    ("ReplicaSet", &Generational),
    ("PodDisruptionBudget", &Generational),
    ("Job", &Job),
    ("Service", &Service),
    ("PersistentVolumeClaim", &Claim),
    ("Namespace", &Namespace),
];

/// Everything the common rules cover.
struct Plain;
impl Kind for Plain {}

/// Workloads and budgets: controllers compare `observedGeneration` with it.
struct Generational;
impl Kind for Generational {
    fn tracks_generation(&self) -> bool {
        true
    }
}

/// batch/v1 Jobs: a generation, a selector on their own uid, and pods left behind by a plain delete (kubectl and
/// client libraries ask for Background explicitly).
struct Job;
impl Kind for Job {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default_propagation(&self) -> Propagation {
        Propagation::Orphan
    }

    fn default_with_uid(&self, obj: &mut Value) {
        defaults::job_selector(obj);
    }
}

/// Services get a cluster IP (and node ports) from the server.
struct Service;
impl Kind for Service {
    fn allocate(&self, obj: &mut Value, store: &mut Inner, dry_run: bool) -> Result<(), ApiError> {
        store.allocate_cluster_ip(obj, dry_run)
    }
}

/// PersistentVolumeClaims: the default StorageClass on create, and resizes only as their class allows.
struct Claim;
impl Kind for Claim {
    fn admit_create(&self, obj: &mut Value, store: &Inner) {
        admission::default_storage_class(obj, &store.storage_classes());
    }

    fn admit_update(&self, new: &Value, old: &Value, store: &Inner) -> Result<(), ApiError> {
        admission::check_resize(new, old, |name| store.storage_class(name))
    }
}

/// Namespaces stay, in phase Terminating, until the namespace controller empties their `spec.finalizers`.
struct Namespace;
impl Kind for Namespace {
    fn held_on_delete(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    }

    fn mark_terminating(&self, obj: &mut Value) {
        obj["status"]["phase"] = json!("Terminating");
    }

    /// kube-apiserver's namespace storage sets the deletion timestamp alone.
    fn deletion_grace_period(&self) -> Option<i64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{resource_type, RESOURCE_TYPES};

    #[test]
    fn each_kind_is_declared_once_and_served() {
        for (i, (kind, _)) in KINDS.iter().enumerate() {
            assert!(
                KINDS[i + 1..].iter().all(|(other, _)| other != kind),
                "{kind} declared twice"
            );
            assert!(
                RESOURCE_TYPES.iter().any(|rt| rt.kind == *kind),
                "{kind} is not served"
            );
        }
    }

    #[test]
    fn kinds_without_an_entry_follow_the_common_rules() {
        let configmaps = of(resource_type("configmaps").unwrap());
        assert!(!configmaps.tracks_generation());
        assert_eq!(configmaps.default_propagation(), Propagation::Background);
        let jobs = of(resource_type("jobs").unwrap());
        assert!(jobs.tracks_generation());
        assert_eq!(jobs.default_propagation(), Propagation::Orphan);
        let namespaces = of(resource_type("namespaces").unwrap());
        assert!(namespaces.held_on_delete(&json!({"spec": {"finalizers": ["kubernetes"]}})));
        assert!(!namespaces.held_on_delete(&json!({"spec": {"finalizers": []}})));
    }
}
