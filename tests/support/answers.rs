//! Two API servers' answers to the same request, compared: what of a stored object to compare, and every path
//! where two answers differ.
use serde_json::{json, Value};

// Field paths of the known differences (crates/kube-sandbox/README.md): atomic maps and structs, which
// kube-apiserver's managedFields own whole and the sandbox's key by key.
pub const SERVICE_SELECTOR_COMPONENT: &str =
    ".metadata.managedFields[0].fieldsV1.f:spec.f:selector.f:app.kubernetes.io/component";
pub const SERVICE_SELECTOR_NAME: &str =
    ".metadata.managedFields[0].fieldsV1.f:spec.f:selector.f:app.kubernetes.io/name";
pub const DNS_SERVICE_SELECTOR: &str =
    ".metadata.managedFields[0].fieldsV1.f:spec.f:selector.f:k8s-app";
pub const ROLE_REF_API_GROUP: &str = ".metadata.managedFields[0].fieldsV1.f:roleRef.f:apiGroup";
pub const ROLE_REF_KIND: &str = ".metadata.managedFields[0].fieldsV1.f:roleRef.f:kind";
pub const ROLE_REF_NAME: &str = ".metadata.managedFields[0].fieldsV1.f:roleRef.f:name";
pub const MATCH_LABELS: &str =
    ".metadata.managedFields[0].fieldsV1.f:spec.f:selector.f:matchLabels";
pub const JOIN_REF_KEY: &str = ".metadata.managedFields[0].fieldsV1.f:spec.f:template.f:spec.f:containers.k:{\"name\":\"cockroachdb\"}.f:env.k:{\"name\":\"COCKROACH_JOIN\"}.f:valueFrom.f:configMapKeyRef.f:key";
pub const JOIN_REF_NAME: &str = ".metadata.managedFields[0].fieldsV1.f:spec.f:template.f:spec.f:containers.k:{\"name\":\"cockroachdb\"}.f:env.k:{\"name\":\"COCKROACH_JOIN\"}.f:valueFrom.f:configMapKeyRef.f:name";
pub const JOIN_REF_OPTIONAL: &str = ".metadata.managedFields[0].fieldsV1.f:spec.f:template.f:spec.f:containers.k:{\"name\":\"cockroachdb\"}.f:env.k:{\"name\":\"COCKROACH_JOIN\"}.f:valueFrom.f:configMapKeyRef.f:optional";

/// What to compare of a stored object: everything but what each server makes up for itself (identities,
/// times, versions, addresses it allocated) and the status, which controllers write.
pub fn comparable(answer: &Value) -> Value {
    let uid = answer["metadata"]["uid"].as_str().map(str::to_string);
    let mut answer = answer.clone();
    if let Some(uid) = uid {
        replace_string(&mut answer, &uid, "(uid)");
    }
    if let Some(meta) = answer.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["uid", "resourceVersion", "creationTimestamp"] {
            meta.remove(key);
        }
        // Whether a deletion is pending is compared; the second each server's clock read is not.
        if let Some(deleting) = meta.get_mut("deletionTimestamp") {
            *deleting = json!("(time)");
        }
        if let Some(fields) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            // Controllers own the status (the real StatefulSet controller writes it as soon as it sees the set).
            fields.retain(|entry| entry["subresource"] != "status");
            for entry in fields {
                entry.as_object_mut().map(|e| e.remove("time"));
            }
        }
    }
    if let Some(object) = answer.as_object_mut() {
        object.remove("status");
    }
    if let Some(spec) = answer.get_mut("spec").and_then(Value::as_object_mut) {
        for key in ["clusterIP", "clusterIPs"] {
            if spec.get(key).is_some() {
                spec.insert(key.into(), json!("(allocated)"));
            }
        }
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if port.get("nodePort").is_some() {
                port["nodePort"] = json!("(allocated)");
            }
        }
    }
    answer
}

/// Replaces every string `from` (an object's uid, in the labels a Job selects its pods with) by `to`.
fn replace_string(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(text) if text == from => *value = json!(to),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_string(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_string(v, from, to)),
        _ => {}
    }
}

/// Every path where two answers differ, as `path: real … , sandbox …`.
pub fn differences(path: &str, real: &Value, sandbox: &Value, out: &mut Vec<(String, String)>) {
    match (real, sandbox) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let null = Value::Null;
                let (x, y) = (a.get(key).unwrap_or(&null), b.get(key).unwrap_or(&null));
                differences(&format!("{path}.{key}"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push((path.to_string(), format!("real {a}, sandbox {b}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_path_that_differs() {
        let mut out = Vec::new();
        differences(
            "",
            &json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"}),
            &json!({"a": {"b": 2, "c": [1, 2]}, "e": true}),
            &mut out,
        );
        let paths: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec![".a.b", ".d", ".e"]);
    }

    /// Two servers deleting the same object a second apart agree: a pending deletion is compared, its second is not.
    #[test]
    fn a_pending_deletion_compares_equal_whatever_second_each_clock_read() {
        let at = |time: &str| json!({"metadata": {"name": "n", "deletionTimestamp": time}});
        assert_eq!(
            comparable(&at("2026-12-06T16:02:19Z")),
            comparable(&at("2026-12-06T16:02:20Z"))
        );
        assert_ne!(
            comparable(&at("2026-12-06T16:02:19Z")),
            comparable(&json!({"metadata": {"name": "n"}})),
            "a deletion pending on one side only is a difference"
        );
    }
}
