//! managedFields bookkeeping and server-side apply: who owns which field, conflicts, and
//! removal of fields an applier stopped sending.

use serde_json::{json, Map, Value};

use super::fields::{self, FieldSet};
use super::schema::{apply_list_kind, ListKind};
use crate::clocktime::now_rfc3339;
use crate::error::{cause, ApiError};

struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: Option<String>,
    time: String,
    fields: FieldSet,
}

fn entries_of(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or("").to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
            subresource: e["subresource"].as_str().map(String::from),
            time: e["time"].as_str().unwrap_or("").to_string(),
            fields: e["fieldsV1"].as_object().cloned().unwrap_or_default(),
        })
        .collect()
}

fn store_entries(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.fields,
            });
            if let Some(s) = e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["managedFields"] = json!(list);
}

fn is_field_leaf(path: &[String]) -> bool {
    path.last().is_some_and(|k| k.starts_with("f:"))
}

/// Records a non-apply write (create, update, patch) by `manager` in `new`'s managedFields:
/// the manager takes every field it changed; fields it removed leave every manager.
pub fn record_update(
    kind: &str,
    api_version: &str,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    let status = subresource == Some("status");
    let new_fields = fields::fields_of(kind, new, status);
    let empty = Value::Null;
    let old_obj = old.unwrap_or(&empty);
    let old_fields = fields::fields_of(kind, old_obj, status);
    let mut changed = FieldSet::new();
    for leaf in fields::leaves(&new_fields) {
        let differs = if is_field_leaf(&leaf) {
            fields::value_at(old_obj, &leaf) != fields::value_at(new, &leaf)
        } else {
            fields::value_at(old_obj, &leaf).is_none()
        };
        if differs {
            fields::insert(&mut changed, &leaf);
        }
    }
    let mut removed = FieldSet::new();
    for leaf in fields::leaves(&old_fields) {
        if !fields::contains(&new_fields, &leaf) {
            fields::insert(&mut removed, &leaf);
        }
    }
    let mut entries = old.map(entries_of).unwrap_or_default();
    for e in entries.iter_mut() {
        fields::subtract(&mut e.fields, &changed);
        fields::subtract(&mut e.fields, &removed);
    }
    if !changed.is_empty() {
        let now = now_rfc3339();
        match entries.iter_mut().find(|e| {
            e.manager == manager
                && e.operation == "Update"
                && e.subresource.as_deref() == subresource
        }) {
            Some(e) => {
                fields::union(&mut e.fields, &changed);
                e.time = now;
                e.api_version = api_version.to_string();
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: api_version.to_string(),
                subresource: subresource.map(String::from),
                time: now,
                fields: changed,
            }),
        }
    }
    store_entries(new, entries);
}

/// Server-side apply of `config` by `manager` onto `current` (None: the object does not exist yet).
/// Returns the object to store, managedFields included.
pub fn apply(
    kind: &str,
    api_version: &str,
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let applied = fields::fields_of(kind, config, false);
    let empty = json!({});
    let cur = current.unwrap_or(&empty);
    let mut entries = entries_of(cur);
    let mine =
        |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource.is_none();

    // Conflicts: fields another manager owns whose value this apply changes.
    let mut conflicts: Vec<(String, String, Vec<String>)> = Vec::new();
    for leaf in fields::leaves(&applied) {
        if !is_field_leaf(&leaf) || fields::value_at(config, &leaf) == fields::value_at(cur, &leaf)
        {
            continue;
        }
        for e in entries.iter().filter(|e| !mine(e)) {
            if fields::contains(&e.fields, &leaf) {
                conflicts.push((e.manager.clone(), e.api_version.clone(), leaf.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let causes = conflicts
            .iter()
            .map(|(m, v, p)| {
                cause(
                    "FieldManagerConflict",
                    &fields::display_path(p),
                    format!("conflict with \"{m}\" using {v}"),
                )
            })
            .collect::<Vec<_>>();
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(m, v, p)| {
                format!(
                    "conflict with \"{m}\" using {v}: {}",
                    fields::display_path(p)
                )
            })
            .collect();
        let message = if lines.len() == 1 {
            format!("Apply failed with 1 conflict: {}", lines[0])
        } else {
            format!(
                "Apply failed with {} conflicts: {}",
                lines.len(),
                lines.join("\n")
            )
        };
        let mut e = ApiError::new(409, "Conflict", message);
        e.causes = causes;
        return Err(e);
    }
    for (m, _, p) in &conflicts {
        for e in entries.iter_mut().filter(|e| &e.manager == m) {
            fields::remove(&mut e.fields, p);
        }
    }

    let mut obj = cur.clone();
    let mut path = Vec::new();
    merge_config(kind, &mut path, &mut obj, config);

    // Fields this manager applied before, dropped now, and owned by no one else go away.
    let previous = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut dropped: Vec<Vec<String>> = fields::leaves(&previous)
        .into_iter()
        .filter(|leaf| !fields::contains(&applied, leaf))
        .collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for leaf in dropped {
        let owner_path: Vec<String> = leaf.iter().filter(|k| *k != ".").cloned().collect();
        let owned_elsewhere = entries
            .iter()
            .filter(|e| !mine(e))
            .any(|e| fields::touches(&e.fields, &owner_path));
        if !owned_elsewhere {
            fields::remove_at(&mut obj, &leaf);
        }
    }

    entries.retain(|e| !mine(e));
    entries.push(Entry {
        manager: manager.to_string(),
        operation: "Apply".into(),
        api_version: api_version.to_string(),
        subresource: None,
        time: now_rfc3339(),
        fields: applied,
    });
    store_entries(&mut obj, entries);
    Ok(obj)
}

fn merge_config(kind: &str, path: &mut Vec<String>, target: &mut Value, config: &Value) {
    let Some(c) = config.as_object() else {
        *target = config.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    for (k, v) in c {
        if path.is_empty() && k == "status" {
            continue;
        }
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let kind_of_list = apply_list_kind(kind, &refs, k);
        let t = target.as_object_mut().expect("object");
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (v, kind_of_list) {
            (Value::Object(_), _) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                path.push(k.clone());
                merge_config(kind, path, slot, v);
                path.pop();
            }
            (Value::Array(items), ListKind::Map(keys)) => {
                let slot = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                path.push(k.clone());
                for item in items {
                    let key = fields::item_key(keys, item);
                    let list = slot.as_array_mut().expect("array");
                    match list.iter_mut().find(|x| fields::item_key(keys, x) == key) {
                        Some(existing) => merge_config(kind, path, existing, item),
                        None => list.push(item.clone()),
                    }
                }
                path.pop();
            }
            (Value::Array(items), ListKind::Set) => {
                let slot = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let list = slot.as_array_mut().expect("array");
                for i in items {
                    if !list.contains(i) {
                        list.push(i.clone());
                    }
                }
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "labels": {"a": "1"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn conflicts_and_force() {
        let first = apply("StatefulSet", "apps/v1", None, &sts(3, "x:1"), "tf", false).unwrap();
        let mut scaled = first.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(
            "StatefulSet",
            "apps/v1",
            Some(&first),
            &mut scaled,
            "kubectl",
            None,
        );
        let err = apply(
            "StatefulSet",
            "apps/v1",
            Some(&scaled),
            &sts(3, "x:2"),
            "tf",
            false,
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.causes[0].field, ".spec.replicas");
        let forced = apply(
            "StatefulSet",
            "apps/v1",
            Some(&scaled),
            &sts(3, "x:2"),
            "tf",
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        assert_eq!(
            forced["spec"]["template"]["spec"]["containers"][0]["image"],
            "x:2"
        );
        // Same value as the other owner: shared, no conflict.
        let again = apply(
            "StatefulSet",
            "apps/v1",
            Some(&scaled),
            &sts(5, "x:1"),
            "tf",
            false,
        );
        assert!(again.is_ok());
    }

    #[test]
    fn dropped_list_items_are_removed_unless_owned_elsewhere() {
        let mut two = sts(3, "x:1");
        two["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "side", "image": "s:1"}));
        let first = apply("StatefulSet", "apps/v1", None, &two, "tf", false).unwrap();
        let next = apply(
            "StatefulSet",
            "apps/v1",
            Some(&first),
            &sts(3, "x:1"),
            "tf",
            false,
        )
        .unwrap();
        let names: Vec<&str> = next["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["c"]);
        // Another applier that also owns the sidecar keeps it alive.
        let both = apply("StatefulSet", "apps/v1", Some(&first), &two, "other", false).unwrap();
        let kept = apply(
            "StatefulSet",
            "apps/v1",
            Some(&both),
            &sts(3, "x:1"),
            "tf",
            false,
        )
        .unwrap();
        assert_eq!(
            kept["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn dropped_fields_are_removed() {
        let first = apply("StatefulSet", "apps/v1", None, &sts(3, "x:1"), "tf", false).unwrap();
        let mut config = sts(3, "x:1");
        config["metadata"].as_object_mut().unwrap().remove("labels");
        let next = apply("StatefulSet", "apps/v1", Some(&first), &config, "tf", false).unwrap();
        assert!(
            next["metadata"]
                .get("labels")
                .is_none_or(|l| l.as_object().unwrap().is_empty()),
            "{next}"
        );
    }
}
