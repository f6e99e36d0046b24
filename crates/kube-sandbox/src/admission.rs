//! Admission plugins a real API server runs around validation, for what the sandbox emulates:
//! `DefaultStorageClass` (mutating: a new claim without a class gets the default class) and
//! `PersistentVolumeClaimResize` (validating: a claim may only grow when its StorageClass sets
//! `allowVolumeExpansion: true`).

use std::cmp::Ordering;

use serde_json::{json, Value};

use crate::error::ApiError;
use kube_codecs::quantity;

/// The annotation that makes a StorageClass the cluster's default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// Whether `class` is marked as the default StorageClass.
pub fn is_default_class(class: &Value) -> bool {
    let annotations = &class["metadata"]["annotations"];
    annotations[DEFAULT_CLASS_ANNOTATION] == "true"
        || annotations[BETA_DEFAULT_CLASS_ANNOTATION] == "true"
}

/// `DefaultStorageClass`: a claim created without `storageClassName` gets the default class (the
/// newest, when several are marked). An empty name is an explicit choice of no class and stays, and
/// without a default class the field stays unset, as on a real cluster.
pub fn default_storage_class(claim: &mut Value, classes: &[Value]) {
    if claim["spec"]
        .get("storageClassName")
        .is_some_and(|v| !v.is_null())
    {
        return;
    }
    let newest_default = classes
        .iter()
        .filter(|c| is_default_class(c))
        .max_by(|a, b| {
            let created = |c: &Value| {
                c["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            };
            created(a).cmp(&created(b)).then_with(|| {
                b["metadata"]["name"]
                    .as_str()
                    .cmp(&a["metadata"]["name"].as_str())
            })
        });
    if let (Some(class), Some(spec)) = (newest_default, claim["spec"].as_object_mut()) {
        spec.insert("storageClassName".into(), class["metadata"]["name"].clone());
    }
}

/// The storage a claim requests, as written.
pub fn requested_storage(claim: &Value) -> Option<&str> {
    claim
        .pointer("/spec/resources/requests/storage")
        .and_then(Value::as_str)
}

/// `PersistentVolumeClaimResize`: a bound claim whose request grows must have a StorageClass that
/// allows expansion; `class` looks a StorageClass up by name. 403 otherwise, with the real message.
pub fn check_resize(
    claim: &Value,
    old: &Value,
    class: impl Fn(&str) -> Option<Value>,
) -> Result<(), ApiError> {
    let grows = match (requested_storage(claim), requested_storage(old)) {
        (Some(new), Some(before)) => quantity::compare(new, before) == Some(Ordering::Greater),
        _ => false,
    };
    if !grows || old["status"]["phase"] != "Bound" {
        return Ok(());
    }
    let allowed = claim["spec"]["storageClassName"]
        .as_str()
        .filter(|name| !name.is_empty())
        .and_then(class)
        .is_some_and(|c| c["allowVolumeExpansion"] == json!(true));
    if allowed {
        return Ok(());
    }
    let name = claim["metadata"]["name"].as_str().unwrap_or("").to_string();
    Err(ApiError {
        details: Some(Box::new((
            String::new(),
            "persistentvolumeclaims".into(),
            name.clone(),
        ))),
        ..ApiError::forbidden(format!(
            "persistentvolumeclaims \"{name}\" is forbidden: only dynamically provisioned pvc can be resized and \
             the storageclass that provisions the pvc must support resize"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, default: bool, expandable: bool, created: &str) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}, "provisioner": "p",
                           "allowVolumeExpansion": expandable});
        if default {
            c["metadata"]["annotations"] = json!({DEFAULT_CLASS_ANNOTATION: "true"});
        }
        c
    }

    fn claim(class: Option<&str>, storage: &str, phase: &str) -> Value {
        let mut c = json!({"metadata": {"name": "data-0"},
                           "spec": {"resources": {"requests": {"storage": storage}}},
                           "status": {"phase": phase}});
        if let Some(class) = class {
            c["spec"]["storageClassName"] = json!(class);
        }
        c
    }

    #[test]
    fn claims_without_a_class_get_the_newest_default() {
        let classes = [
            class("standard", true, true, "2025-01-01T00:00:00Z"),
            class("fast", false, true, "2025-03-01T00:00:00Z"),
            class("premium", true, true, "2025-02-01T00:00:00Z"),
        ];
        let mut c = claim(None, "1Gi", "Pending");
        default_storage_class(&mut c, &classes);
        assert_eq!(c["spec"]["storageClassName"], "premium");
        let mut chosen = claim(Some("fast"), "1Gi", "Pending");
        default_storage_class(&mut chosen, &classes);
        assert_eq!(chosen["spec"]["storageClassName"], "fast");
        let mut none = claim(Some(""), "1Gi", "Pending");
        default_storage_class(&mut none, &classes);
        assert_eq!(
            none["spec"]["storageClassName"], "",
            "an explicit empty class stays"
        );
        let mut no_default = claim(None, "1Gi", "Pending");
        default_storage_class(&mut no_default, &classes[1..2]);
        assert!(no_default["spec"].get("storageClassName").is_none());
    }

    #[test]
    fn only_expandable_classes_let_a_bound_claim_grow() {
        let classes = [
            class("standard", true, true, ""),
            class("fixed", false, false, ""),
        ];
        let lookup = |name: &str| {
            classes
                .iter()
                .find(|c| c["metadata"]["name"] == name)
                .cloned()
        };
        let old = claim(Some("standard"), "1Gi", "Bound");
        assert!(check_resize(&claim(Some("standard"), "2Gi", "Bound"), &old, lookup).is_ok());
        let old_fixed = claim(Some("fixed"), "1Gi", "Bound");
        let refused = check_resize(&claim(Some("fixed"), "2Gi", "Bound"), &old_fixed, lookup)
            .expect_err("fixed does not allow expansion");
        assert_eq!(refused.code, 403);
        assert!(
            refused.message.contains("must support resize"),
            "{}",
            refused.message
        );
        assert!(
            check_resize(&claim(Some("fixed"), "1024Mi", "Bound"), &old_fixed, lookup).is_ok(),
            "the same size in other units is no growth"
        );
        let old_unknown = claim(Some("gone"), "1Gi", "Bound");
        assert!(check_resize(&claim(Some("gone"), "2Gi", "Bound"), &old_unknown, lookup).is_err());
        let old_classless = claim(None, "1Gi", "Bound");
        assert!(check_resize(&claim(None, "2Gi", "Bound"), &old_classless, lookup).is_err());
    }
}
