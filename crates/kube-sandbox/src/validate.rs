//! Validation the real API server does: names, required fields, immutable fields.

use serde_json::Value;

use crate::error::{cause, ApiError, Cause};
use crate::resources::ResourceType;

/// Type errors the real server reports while decoding the body (400, before any validation).
fn decodes(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let fail = |why: String| {
        Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {why}",
            rt.kind, rt.version, rt.kind
        )))
    };
    let string_maps: &[(&str, bool)] = match rt.kind {
        "Secret" => &[("data", true), ("stringData", false)],
        "ConfigMap" => &[("data", false), ("binaryData", true)],
        _ => &[],
    };
    for &(field, base64) in string_maps {
        for (k, v) in obj[field].as_object().into_iter().flatten() {
            let Some(text) = v.as_str() else {
                return fail(format!(
                    "json: cannot unmarshal {} into Go struct field {}.{field} of type string",
                    json_type(v),
                    rt.kind
                ));
            };
            if base64 {
                use base64::Engine;
                if base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_err()
                {
                    return fail(format!("illegal base64 data in {field}[{k}]"));
                }
            }
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        _ => "value",
    }
}

fn owner_references(obj: &Value, causes: &mut Vec<Cause>) {
    let refs = obj["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut controllers = 0;
    for (i, r) in refs.iter().enumerate() {
        for f in ["apiVersion", "kind", "name", "uid"] {
            if r[f].as_str().unwrap_or("").is_empty() {
                causes.push(cause(
                    "FieldValueRequired",
                    &format!("metadata.ownerReferences[{i}].{f}"),
                    "Required value",
                ));
            }
        }
        if r["controller"] == true {
            controllers += 1;
        }
    }
    if controllers > 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.ownerReferences",
            "Invalid value: only one reference can have Controller set to true",
        ));
    }
}

/// Validates a new object (`old` is `None`) or an update of `old`.
pub fn object(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    decodes(rt, obj)?;
    let mut causes = Vec::new();
    owner_references(obj, &mut causes);
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    if name.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else if let Some(msg) = name_problem(rt, name) {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": {msg}"),
        ));
    }
    labels(
        obj,
        "metadata.labels",
        &obj["metadata"]["labels"],
        &mut causes,
    );
    match rt.kind {
        "Pod" => pod_spec("spec", &obj["spec"], &mut causes),
        "Service" => service(obj, old, &mut causes),
        "StatefulSet" => stateful_set(obj, old, &mut causes),
        "Deployment" | "ReplicaSet" => workload(obj, old, &mut causes),
        "Job" => job(obj, old, &mut causes),
        "PodDisruptionBudget" => pdb(obj, &mut causes),
        "Secret" | "ConfigMap" => immutable_data(obj, old, &mut causes),
        "RoleBinding" | "ClusterRoleBinding" => {
            if !obj["roleRef"].is_object() {
                causes.push(cause("FieldValueRequired", "roleRef", "Required value"));
            } else if let Some(o) = old {
                if o["roleRef"] != obj["roleRef"] {
                    causes.push(cause(
                        "FieldValueInvalid",
                        "roleRef",
                        "Invalid value: cannot change roleRef",
                    ));
                }
            }
        }
        "PersistentVolumeClaim" => pvc(obj, old, &mut causes),
        "StorageClass" => storage_class(obj, old, &mut causes),
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt.group, rt.kind, name, causes))
    }
}

fn name_problem(rt: &ResourceType, name: &str) -> Option<String> {
    match rt.kind {
        // Services and namespaces name DNS labels; services must start with a letter (RFC 1035).
        "Service" => dns1035_label(name),
        "Namespace" => dns1123_label(name),
        // RBAC names are path segments.
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => {
            (name == "." || name == ".." || name.contains('/') || name.contains('%'))
                .then(|| "may not contain '/' or '%', or be '.' or '..'".to_string())
        }
        _ => dns1123_subdomain(name),
    }
}

fn is_alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub fn dns1123_label(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| is_alnum_lower(c) || c == '-')
        && s.starts_with(is_alnum_lower)
        && s.ends_with(is_alnum_lower);
    (!ok).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()
    })
}

pub fn dns1035_label(s: &str) -> Option<String> {
    let ok = dns1123_label(s).is_none() && s.starts_with(|c: char| c.is_ascii_lowercase());
    (!ok).then(|| {
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string()
    })
}

pub fn dns1123_subdomain(s: &str) -> Option<String> {
    let ok =
        !s.is_empty() && s.len() <= 253 && s.split('.').all(|part| dns1123_label(part).is_none());
    (!ok).then(|| {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()
    })
}

fn label_value_ok(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && (v.is_empty()
            || (v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.ends_with(|c: char| c.is_ascii_alphanumeric())))
}

fn label_key_ok(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(|p| dns1123_subdomain(p).is_none())
        && !name.is_empty()
        && label_value_ok(name)
}

fn labels(_obj: &Value, path: &str, labels: &Value, causes: &mut Vec<Cause>) {
    let Some(m) = labels.as_object() else { return };
    for (k, v) in m {
        if !label_key_ok(k) {
            causes.push(cause("FieldValueInvalid", path, format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.'")));
        }
        match v.as_str() {
            Some(s) if label_value_ok(s) => {}
            _ => causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
            )),
        }
    }
}

fn required(v: &Value, field: &str, causes: &mut Vec<Cause>) -> bool {
    let present = !v.is_null() && v != "" && v.as_array().is_none_or(|a| !a.is_empty());
    if !present {
        causes.push(cause("FieldValueRequired", field, "Required value"));
    }
    present
}

fn pod_spec(path: &str, spec: &Value, causes: &mut Vec<Cause>) {
    if !required(&spec["containers"], &format!("{path}.containers"), causes) {
        return;
    }
    let mut names = std::collections::HashSet::new();
    for (i, c) in spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let p = format!("{path}.containers[{i}]");
        if required(&c["name"], &format!("{p}.name"), causes) {
            let n = c["name"].as_str().unwrap_or("");
            if let Some(msg) = dns1123_label(n) {
                causes.push(cause(
                    "FieldValueInvalid",
                    &format!("{p}.name"),
                    format!("Invalid value: \"{n}\": {msg}"),
                ));
            }
            if !names.insert(n.to_string()) {
                causes.push(cause(
                    "FieldValueDuplicate",
                    &format!("{p}.name"),
                    format!("Duplicate value: \"{n}\""),
                ));
            }
        }
        required(&c["image"], &format!("{p}.image"), causes);
    }
    let volumes: Vec<&str> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for (i, c) in spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, m) in c["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let n = m["name"].as_str().unwrap_or("");
            if !volumes.contains(&n) && !n.is_empty() {
                // volumeClaimTemplates also supply volumes; the StatefulSet check adds them.
                let _ = (i, j);
            }
        }
    }
}

fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let labels = labels.as_object();
    let ml = selector["matchLabels"].as_object();
    let ok_labels = ml.is_none_or(|m| {
        m.iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    });
    let ok_exprs = selector["matchExpressions"].as_array().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let val = labels.and_then(|l| l.get(key)).and_then(Value::as_str);
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str().unwrap_or("") {
                "In" => val.is_some_and(|v| values.contains(&v)),
                "NotIn" => val.is_none_or(|v| !values.contains(&v)),
                "Exists" => val.is_some(),
                "DoesNotExist" => val.is_none(),
                _ => false,
            }
        })
    });
    ok_labels && ok_exprs
}

fn selector_and_template(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let sel = &spec["selector"];
    if sel.is_null() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.selector",
            "Required value",
        ));
    } else if sel["matchLabels"].as_object().is_none_or(|m| m.is_empty())
        && sel["matchExpressions"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.selector",
            "Invalid value: empty selector is invalid for deployment",
        ));
    } else if !selector_matches(sel, &spec["template"]["metadata"]["labels"]) {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.template.metadata.labels",
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                spec["template"]["metadata"]["labels"]
            ),
        ));
    }
    pod_spec("spec.template.spec", &spec["template"]["spec"], causes);
    let rp = spec["template"]["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or("Always");
    if obj["kind"] != "Job" && rp != "Always" {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.template.spec.restartPolicy",
            format!("Unsupported value: \"{rp}\": supported values: \"Always\""),
        ));
    }
}

fn non_negative(v: &Value, field: &str, causes: &mut Vec<Cause>) {
    if v.as_i64().is_some_and(|n| n < 0) {
        causes.push(cause(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {v}: must be greater than or equal to 0"),
        ));
    }
}

fn stateful_set(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    selector_and_template(obj, causes);
    non_negative(&obj["spec"]["replicas"], "spec.replicas", causes);
    let pmp = obj["spec"]["podManagementPolicy"]
        .as_str()
        .unwrap_or("OrderedReady");
    if pmp != "OrderedReady" && pmp != "Parallel" {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.podManagementPolicy",
            format!(
                "Unsupported value: \"{pmp}\": supported values: \"OrderedReady\", \"Parallel\""
            ),
        ));
    }
    if let Some(old) = old {
        let mutable = [
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
            "revisionHistoryLimit",
        ];
        let strip = |v: &Value| {
            let mut s = v["spec"].clone();
            if let Some(m) = s.as_object_mut() {
                for k in mutable {
                    m.remove(k);
                }
                // Stored claim templates carry a status the client never sends.
                if let Some(cs) = m
                    .get_mut("volumeClaimTemplates")
                    .and_then(Value::as_array_mut)
                {
                    for c in cs {
                        if let Some(cm) = c.as_object_mut() {
                            cm.remove("status");
                        }
                    }
                }
            }
            s
        };
        if strip(obj) != strip(old) {
            causes.push(cause(
                "FieldValueForbidden",
                "spec",
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

fn workload(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    selector_and_template(obj, causes);
    non_negative(&obj["spec"]["replicas"], "spec.replicas", causes);
    if let Some(old) = old {
        if old["spec"]["selector"] != obj["spec"]["selector"] {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.selector",
                format!(
                    "Invalid value: {}: field is immutable",
                    obj["spec"]["selector"]
                ),
            ));
        }
    }
}

fn job(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    pod_spec("spec.template.spec", &spec["template"]["spec"], causes);
    let rp = spec["template"]["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or("");
    if rp != "OnFailure" && rp != "Never" {
        if rp.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.template.spec.restartPolicy",
                "Required value: valid values: \"OnFailure\", \"Never\"",
            ));
        } else {
            causes.push(cause(
                "FieldValueNotSupported",
                "spec.template.spec.restartPolicy",
                format!("Unsupported value: \"{rp}\": supported values: \"OnFailure\", \"Never\""),
            ));
        }
    }
    non_negative(&spec["backoffLimit"], "spec.backoffLimit", causes);
    if let Some(old) = old {
        for (k, path) in [
            ("template", "spec.template"),
            ("selector", "spec.selector"),
            ("completionMode", "spec.completionMode"),
        ] {
            if old["spec"][k] != spec[k] {
                causes.push(cause(
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: {}: field is immutable", spec[k]),
                ));
            }
        }
    }
}

fn service(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let svc_type = spec["type"].as_str().unwrap_or("ClusterIP");
    match svc_type {
        "ExternalName" => {
            let en = spec["externalName"].as_str().unwrap_or("");
            if en.is_empty() {
                causes.push(cause("FieldValueRequired", "spec.externalName", "Required value"));
            } else if let Some(msg) = dns1123_subdomain(en.trim_end_matches('.')) {
                causes.push(cause("FieldValueInvalid", "spec.externalName", format!("Invalid value: \"{en}\": {msg}")));
            }
        }
        "ClusterIP" | "NodePort" | "LoadBalancer" => {
            if spec["clusterIP"] != "None" && spec["ports"].as_array().is_none_or(|p| p.is_empty()) {
                causes.push(cause("FieldValueRequired", "spec.ports", "Required value"));
            }
        }
        other => causes.push(cause(
            "FieldValueNotSupported",
            "spec.type",
            format!("Unsupported value: \"{other}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
        )),
    }
    let ports = spec["ports"].as_array().cloned().unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let port = p["port"].as_i64().unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push(cause(
                "FieldValueInvalid",
                &format!("spec.ports[{i}].port"),
                format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
            ));
        }
        if ports.len() > 1 && p["name"].as_str().unwrap_or("").is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                &format!("spec.ports[{i}].name"),
                "Required value",
            ));
        }
        if !seen.insert((port, p["protocol"].as_str().unwrap_or("TCP").to_string())) {
            causes.push(cause(
                "FieldValueDuplicate",
                &format!("spec.ports[{i}]"),
                format!("Duplicate value: {}", p),
            ));
        }
    }
    if let Some(old) = old {
        let was = old["spec"]["clusterIP"].as_str().unwrap_or("");
        let now = spec["clusterIP"].as_str().unwrap_or("");
        if !was.is_empty()
            && was != now
            && old["spec"]["type"] != "ExternalName"
            && svc_type != "ExternalName"
        {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.clusterIPs[0]",
                format!("Invalid value: []string{{\"{now}\"}}: may not change once set"),
            ));
        }
    }
}

fn pdb(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    if !spec["minAvailable"].is_null() && !spec["maxUnavailable"].is_null() {
        causes.push(cause(
            "FieldValueInvalid",
            "spec",
            "Invalid value: minAvailable and maxUnavailable cannot be both set",
        ));
    }
}

fn immutable_data(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    for field in ["data", "binaryData"] {
        for k in obj[field].as_object().into_iter().flat_map(|m| m.keys()) {
            let ok = !k.is_empty()
                && k.len() <= 253
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                causes.push(cause("FieldValueInvalid", &format!("{field}[{k}]"), format!("Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'")));
            }
        }
    }
    let Some(old) = old else { return };
    if old["immutable"] != true {
        return;
    }
    if obj["immutable"] != true {
        causes.push(cause(
            "FieldValueForbidden",
            "immutable",
            "Forbidden: field is immutable when `immutable` is set",
        ));
    }
    for field in ["data", "binaryData", "stringData"] {
        if old[field] != obj[field] && field != "stringData" {
            causes.push(cause(
                "FieldValueForbidden",
                field,
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
    }
    if obj["kind"] == "Secret" && old["type"] != obj["type"] {
        causes.push(cause(
            "FieldValueInvalid",
            "type",
            format!("Invalid value: {}: field is immutable", obj["type"]),
        ));
    }
}

/// A claim's spec is immutable once created, except that a bound claim's storage request may change: grow
/// freely (admission then checks the StorageClass), and shrink only to recover from an expansion that has not
/// finished, never to or below the capacity the volume has (Kubernetes 1.33, `RecoverVolumeExpansionFailure`).
fn pvc(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(old) = old else { return };
    let bound = old["status"]["phase"] == "Bound";
    let strip = |v: &Value| {
        let mut s = v["spec"].clone();
        if let Some(m) = s.as_object_mut() {
            m.remove("volumeName");
            m.remove("volumeAttributesClassName");
            if bound {
                if let Some(requests) = m
                    .get_mut("resources")
                    .and_then(|r| r.get_mut("requests"))
                    .and_then(Value::as_object_mut)
                {
                    requests.remove("storage");
                }
            }
        }
        s
    };
    if strip(obj) != strip(old) {
        causes.push(cause("FieldValueForbidden", "spec", "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
    }
    let at = "/spec/resources/requests/storage";
    let (Some(new), Some(before)) = (
        obj.pointer(at).and_then(Value::as_str),
        old.pointer(at).and_then(Value::as_str),
    ) else {
        return;
    };
    if bound && kube_codecs::quantity::compare(new, before) == Some(std::cmp::Ordering::Less) {
        let capacity = old
            .pointer("/status/capacity/storage")
            .and_then(Value::as_str)
            .unwrap_or(before);
        if kube_codecs::quantity::compare(new, capacity) != Some(std::cmp::Ordering::Greater) {
            causes.push(cause(
                "FieldValueForbidden",
                "spec.resources.requests.storage",
                "Forbidden: field can not be less than status.capacity",
            ));
        }
    }
}

/// A StorageClass needs a provisioner; only `allowVolumeExpansion`, `mountOptions` and metadata may change.
fn storage_class(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    required(&obj["provisioner"], "provisioner", causes);
    let Some(old) = old else { return };
    for field in ["parameters", "provisioner", "reclaimPolicy"] {
        if obj[field] != old[field] {
            causes.push(cause(
                "FieldValueForbidden",
                field,
                format!("Forbidden: updates to {field} are forbidden."),
            ));
        }
    }
    if obj["volumeBindingMode"] != old["volumeBindingMode"] {
        causes.push(cause(
            "FieldValueInvalid",
            "volumeBindingMode",
            format!(
                "Invalid value: {}: field is immutable",
                obj["volumeBindingMode"]
            ),
        ));
    }
}

pub fn selector_matches_labels(selector: &Value, labels: &Value) -> bool {
    selector_matches(selector, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::resource_type;
    use serde_json::json;

    fn claim(request: &str, phase: &str, capacity: Option<&str>) -> Value {
        let mut c = json!({"metadata": {"name": "data-0"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "resources": {"requests": {"storage": request}}},
            "status": {"phase": phase}});
        if let Some(capacity) = capacity {
            c["status"]["capacity"] = json!({"storage": capacity});
        }
        c
    }

    fn check(new: &Value, old: &Value) -> Result<(), ApiError> {
        object(resource_type("pvc").unwrap(), new, Some(old))
    }

    #[test]
    fn a_bound_claim_may_grow_but_never_shrink_below_its_capacity() {
        let bound = claim("1Gi", "Bound", Some("1Gi"));
        assert!(check(&claim("2Gi", "Bound", Some("1Gi")), &bound).is_ok());
        let shrink = check(&claim("512Mi", "Bound", Some("1Gi")), &bound).unwrap_err();
        assert_eq!(shrink.code, 422);
        assert_eq!(shrink.causes[0].field, "spec.resources.requests.storage");
        assert!(
            shrink
                .message
                .contains("can not be less than status.capacity"),
            "{}",
            shrink.message
        );
        assert!(
            check(&claim("1024Mi", "Bound", Some("1Gi")), &bound).is_ok(),
            "the same size in other units"
        );
        // An expansion under way may be lowered again, but not to the capacity the volume has.
        let expanding = claim("4Gi", "Bound", Some("1Gi"));
        assert!(check(&claim("2Gi", "Bound", Some("1Gi")), &expanding).is_ok());
        assert!(check(&claim("1Gi", "Bound", Some("1Gi")), &expanding).is_err());
    }

    #[test]
    fn a_pending_claim_and_other_spec_fields_are_immutable() {
        let pending = claim("1Gi", "Pending", None);
        let grown = check(&claim("2Gi", "Pending", None), &pending).unwrap_err();
        assert_eq!(grown.causes[0].field, "spec");
        let bound = claim("1Gi", "Bound", Some("1Gi"));
        let mut reclassed = bound.clone();
        reclassed["spec"]["storageClassName"] = json!("fast");
        assert_eq!(
            check(&reclassed, &bound).unwrap_err().causes[0].field,
            "spec"
        );
    }

    #[test]
    fn a_storage_class_needs_a_provisioner_and_only_expansion_may_change() {
        let rt = resource_type("storageclasses").unwrap();
        let class = json!({"metadata": {"name": "fixed"}, "provisioner": "p", "reclaimPolicy": "Delete",
                           "volumeBindingMode": "Immediate", "allowVolumeExpansion": false});
        assert!(object(rt, &class, None).is_ok());
        let mut no_provisioner = class.clone();
        no_provisioner
            .as_object_mut()
            .unwrap()
            .remove("provisioner");
        assert_eq!(
            object(rt, &no_provisioner, None).unwrap_err().causes[0].field,
            "provisioner"
        );
        let mut expandable = class.clone();
        expandable["allowVolumeExpansion"] = json!(true);
        assert!(object(rt, &expandable, Some(&class)).is_ok());
        let mut moved = class.clone();
        moved["provisioner"] = json!("q");
        moved["reclaimPolicy"] = json!("Retain");
        let fields: Vec<String> = object(rt, &moved, Some(&class))
            .unwrap_err()
            .causes
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(fields, ["provisioner", "reclaimPolicy"]);
    }
}
