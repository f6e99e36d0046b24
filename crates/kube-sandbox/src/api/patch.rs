//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

use serde_json::{Map, Value};

use super::schema::{patch_list_kind, ListKind};
use crate::error::ApiError;

/// JSON merge patch (RFC 7386): objects merge key by key, `null` deletes a key, anything else (arrays
/// included) replaces what was there.
pub use json_patch::merge as merge_patch;

pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(target, &ops).map_err(|e| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {e}"),
        )
    })
}

pub fn strategic_merge_patch(
    kind: &str,
    target: &mut Value,
    patch: &Value,
) -> Result<(), ApiError> {
    let mut path = Vec::new();
    smp_object(kind, &mut path, target, patch)
}

fn smp_object(
    kind: &str,
    path: &mut Vec<String>,
    target: &mut Value,
    patch: &Value,
) -> Result<(), ApiError> {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = p.clone();
            replaced.remove("$patch");
            *target = Value::Object(replaced);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type: {other}"
            )))
        }
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    for (k, v) in p {
        if k == "$retainKeys"
            || k.starts_with("$setElementOrder/")
            || k.starts_with("$deleteFromPrimitiveList/")
        {
            continue;
        }
        let t = target.as_object_mut().expect("object");
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let path_refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let list_kind = patch_list_kind(kind, &path_refs, k);
        match (v, list_kind) {
            (Value::Array(items), ListKind::Map(keys)) => {
                let cur = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                path.push(k.clone());
                let r = smp_keyed_list(kind, path, cur, items, keys[0]);
                path.pop();
                r?;
            }
            (Value::Array(items), ListKind::Set) => {
                let cur = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                let list = cur.as_array_mut().expect("array");
                for i in items {
                    if !list.contains(i) {
                        list.push(i.clone());
                    }
                }
            }
            (Value::Object(_), _) => {
                let cur = t.entry(k.clone()).or_insert(Value::Null);
                path.push(k.clone());
                let r = smp_object(kind, path, cur, v);
                path.pop();
                r?;
                if cur.is_null() {
                    t.remove(k);
                }
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    // `$setElementOrder/<field>`: the patch's order of list items (kubectl sends it with every list).
    for (k, v) in p {
        let (Some(field), Some(order)) = (k.strip_prefix("$setElementOrder/"), v.as_array()) else {
            continue;
        };
        let path_refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let key = match patch_list_kind(kind, &path_refs, field) {
            ListKind::Map(keys) => Some(keys[0]),
            ListKind::Set => None,
            ListKind::Atomic => continue,
        };
        if let Some(list) = target.get_mut(field).and_then(Value::as_array_mut) {
            reorder(list, order, key);
        }
    }
    // `$retainKeys`: the map keeps only the listed keys (union types such as a Deployment's strategy).
    if let (Some(keep), Some(t)) = (
        p.get("$retainKeys").and_then(Value::as_array),
        target.as_object_mut(),
    ) {
        t.retain(|k, _| keep.iter().any(|x| x == k));
    }
    // Removals listed as `$deleteFromPrimitiveList/<field>`.
    for (k, v) in p {
        if let (Some(field), Some(remove)) =
            (k.strip_prefix("$deleteFromPrimitiveList/"), v.as_array())
        {
            if let Some(list) = target.get_mut(field).and_then(Value::as_array_mut) {
                list.retain(|x| !remove.contains(x));
            }
        }
    }
    Ok(())
}

/// Items named in `order` first, in that order; the others (set by someone else) after them.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |item: &Value| match key {
        Some(k) => item.get(k).cloned().unwrap_or(Value::Null),
        None => item.clone(),
    };
    let want = |o: &Value| match key {
        Some(k) => o.get(k).cloned().unwrap_or(Value::Null),
        None => o.clone(),
    };
    let mut ordered = Vec::with_capacity(list.len());
    for o in order {
        let w = want(o);
        if let Some(i) = list.iter().position(|item| id(item) == w) {
            ordered.push(list.remove(i));
        }
    }
    ordered.append(list);
    *list = ordered;
}

fn smp_keyed_list(
    kind: &str,
    path: &mut Vec<String>,
    target: &mut Value,
    items: &[Value],
    key: &str,
) -> Result<(), ApiError> {
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    // `[{"$patch": "replace"}, ...]` replaces the list with the other items.
    if items
        .iter()
        .any(|i| i.get("$patch") == Some(&Value::String("replace".into())) && i.get(key).is_none())
    {
        let rest: Vec<Value> = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .collect();
        *target = Value::Array(rest);
        return Ok(());
    }
    let list = target.as_array_mut().expect("array");
    for item in items {
        let Some(k) = item.get(key) else {
            return Err(ApiError::bad_request(format!(
                "map: {item} does not contain declared merge key: {key}"
            )));
        };
        let pos = list.iter().position(|x| x.get(key) == Some(k));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                list.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => smp_object(kind, path, &mut list[i], item)?,
            None => {
                let mut fresh = Value::Object(Map::new());
                smp_object(kind, path, &mut fresh, item)?;
                list.push(fresh);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_keeps_other_containers_and_env() {
        let mut sts = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "b", "image": "y:1"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "x:2", "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}]}
        ]}}}});
        strategic_merge_patch("StatefulSet", &mut sts, &patch).unwrap();
        let cs = &sts["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "x:2");
        assert_eq!(cs[0]["env"], json!([{"name": "B", "value": "3"}]));
        assert_eq!(cs[1]["name"], "b");
    }

    #[test]
    fn retain_keys_and_primitive_list_deletes() {
        let mut d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
                           "metadata": {"finalizers": ["a", "b"]}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
                           "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}});
        strategic_merge_patch("Deployment", &mut d, &patch).unwrap();
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(d["metadata"]["finalizers"], json!(["b", "c"]));
    }

    #[test]
    fn set_element_order_reorders() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}});
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
                                    "containers": [{"name": "c", "image": "2"}]}});
        strategic_merge_patch("Pod", &mut pod, &patch).unwrap();
        let names: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["c", "b", "a"]);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // The examples of RFC 7386 appendix A: (target, patch, result).
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, result) in cases {
            let before = target.clone();
            merge_patch(&mut target, &patch);
            assert_eq!(target, result, "{before} patched with {patch}");
        }
    }

    #[test]
    fn merge_patch_replaces_lists_where_strategic_merge_would_merge_them() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "2"}]}});
        let mut merged = pod.clone();
        merge_patch(&mut merged, &patch);
        assert_eq!(merged, patch, "a merge patch replaces the whole list");
        let mut strategic = pod;
        strategic_merge_patch("Pod", &mut strategic, &patch).unwrap();
        assert_eq!(strategic["spec"]["containers"].as_array().unwrap().len(), 2);
    }
}
