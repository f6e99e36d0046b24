//! Field sets in the `FieldsV1` form managedFields use: a tree whose keys are `f:<field>`,
//! `k:<json of list keys>`, `v:<json of a set value>` or `.` (the list item itself); leaves are `{}`.

use serde_json::{Map, Value};

use super::schema::{apply_list_kind, ListKind};

pub type FieldSet = Map<String, Value>;

/// Fields the server owns, never tracked for managers.
fn server_owned(path: &[&str], key: &str) -> bool {
    match path {
        [] => matches!(key, "apiVersion" | "kind" | "status"),
        ["metadata"] => matches!(
            key,
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "managedFields"
                | "selfLink"
        ),
        _ => false,
    }
}

/// The list-item key `k:{...}` of an item, with defaulted key fields filled as the server would.
pub fn item_key(keys: &[&str], item: &Value) -> String {
    let mut m = Map::new();
    for k in keys {
        let v = match item.get(*k) {
            Some(v) if !v.is_null() => v.clone(),
            _ if *k == "protocol" => Value::String("TCP".into()),
            _ => continue,
        };
        m.insert((*k).to_string(), v);
    }
    format!("k:{}", Value::Object(m))
}

/// Every field set in `obj` (with `status` only when `with_status`).
pub fn fields_of(kind: &str, obj: &Value, with_status: bool) -> FieldSet {
    let mut path = Vec::new();
    let mut set = object_fields(kind, &mut path, obj);
    if with_status {
        if let Some(s) = obj.get("status").filter(|s| s.is_object()) {
            path.push("status".to_string());
            set.insert(
                "f:status".into(),
                Value::Object(object_fields(kind, &mut path, s)),
            );
        }
    }
    set
}

fn object_fields(kind: &str, path: &mut Vec<String>, obj: &Value) -> FieldSet {
    let mut set = Map::new();
    let Some(m) = obj.as_object() else { return set };
    for (k, v) in m {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        if server_owned(&refs, k) || v.is_null() {
            continue;
        }
        let node = match v {
            Value::Object(o) if !o.is_empty() => {
                path.push(k.clone());
                let f = object_fields(kind, path, v);
                path.pop();
                // metadata with only server-owned fields (name, namespace) is no field of the manager's.
                if f.is_empty() {
                    continue;
                }
                f
            }
            Value::Array(items) => match apply_list_kind(kind, &refs, k) {
                ListKind::Map(keys) => {
                    path.push(k.clone());
                    let mut f = Map::new();
                    for item in items {
                        let mut child = object_fields(kind, path, item);
                        child.insert(".".into(), Value::Object(Map::new()));
                        f.insert(item_key(keys, item), Value::Object(child));
                    }
                    path.pop();
                    f
                }
                ListKind::Set => items
                    .iter()
                    .map(|i| (format!("v:{i}"), Value::Object(Map::new())))
                    .collect(),
                ListKind::Atomic => Map::new(),
            },
            _ => Map::new(),
        };
        set.insert(format!("f:{k}"), Value::Object(node));
    }
    set
}

/// Paths to the leaves of a set (each path a list of keys).
pub fn leaves(set: &FieldSet) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    fn walk(set: &FieldSet, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for (k, v) in set {
            prefix.push(k.clone());
            match v.as_object() {
                Some(children) if !children.is_empty() => walk(children, prefix, out),
                _ => out.push(prefix.clone()),
            }
            prefix.pop();
        }
    }
    walk(set, &mut Vec::new(), &mut out);
    out
}

pub fn contains(set: &FieldSet, path: &[String]) -> bool {
    let mut cur = set;
    for (i, k) in path.iter().enumerate() {
        match cur.get(k).and_then(Value::as_object) {
            Some(next) if i + 1 == path.len() => return next.is_empty() || next.contains_key("."),
            Some(next) => cur = next,
            None => return false,
        }
    }
    false
}

/// Whether the set has anything at or under `path`.
pub fn touches(set: &FieldSet, path: &[String]) -> bool {
    let mut cur = set;
    for k in path {
        match cur.get(k).and_then(Value::as_object) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    true
}

pub fn insert(set: &mut FieldSet, path: &[String]) {
    let mut cur = set;
    for k in path {
        cur = cur
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("field sets are objects");
    }
}

pub fn remove(set: &mut FieldSet, path: &[String]) {
    fn go(set: &mut FieldSet, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            set.remove(first);
            return;
        }
        if let Some(child) = set.get_mut(first).and_then(Value::as_object_mut) {
            go(child, rest);
            if child.is_empty() {
                set.remove(first);
            }
        }
    }
    go(set, path);
}

pub fn union(a: &mut FieldSet, b: &FieldSet) {
    for p in leaves(b) {
        insert(a, &p);
    }
}

pub fn subtract(a: &mut FieldSet, b: &FieldSet) {
    for p in leaves(b) {
        remove(a, &p);
    }
}

/// One step into a JSON value: a field of an object, or an item of a list.
enum Step {
    Field(String),
    Item(usize),
}

/// Whether a list item has the keys a `k:` path element names. A `protocol` key of `TCP` also matches an item
/// with no protocol: the API server defaults it.
fn has_keys(item: &Value, want: &Map<String, Value>) -> bool {
    want.iter().all(|(key, value)| {
        item.get(key) == Some(value)
            || (key == "protocol" && value == "TCP" && item.get(key).is_none_or(Value::is_null))
    })
}

/// The steps from `obj` to the value at `path`, if it is there (`.` and `v:` stay at the container, `v:` once
/// the set holds the value).
fn locate(obj: &Value, path: &[String]) -> Option<Vec<Step>> {
    let mut cur = obj;
    let mut steps = Vec::new();
    for k in path {
        if let Some(f) = k.strip_prefix("f:") {
            cur = cur.get(f)?;
            steps.push(Step::Field(f.to_owned()));
        } else if let Some(keys) = k.strip_prefix("k:") {
            let want: Map<String, Value> = serde_json::from_str(keys).ok()?;
            let index = cur
                .as_array()?
                .iter()
                .position(|item| has_keys(item, &want))?;
            cur = &cur[index];
            steps.push(Step::Item(index));
        } else if let Some(v) = k.strip_prefix("v:") {
            let want: Value = serde_json::from_str(v).ok()?;
            cur.as_array()?.iter().find(|x| **x == want)?;
        } else if k != "." {
            return None;
        }
    }
    Some(steps)
}

/// The value at a field path in an object, if present (`.` and `v:` give the container itself).
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    locate(obj, path)?
        .iter()
        .try_fold(obj, |cur, step| match step {
            Step::Field(f) => cur.get(f.as_str()),
            Step::Item(i) => cur.get(*i),
        })
}

fn value_at_mut<'a>(obj: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let steps = locate(obj, path)?;
    steps.iter().try_fold(obj, |cur, step| match step {
        Step::Field(f) => cur.get_mut(f.as_str()),
        Step::Item(i) => cur.get_mut(*i),
    })
}

/// `.spec.template.spec.containers[name="db"].image`, as conflict messages show paths.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for k in path {
        if let Some(f) = k.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(keys) = k.strip_prefix("k:") {
            let m: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = k.strip_prefix("v:") {
            s.push_str(&format!("[{v}]"));
        }
    }
    s
}

/// Removes the field at `path` from `obj` (a list item for a path ending in `k:`/`.`, a set value for `v:`).
pub fn remove_at(obj: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|k| *k != ".").collect();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parents: Vec<String> = parents.iter().map(|s| (*s).clone()).collect();
    let Some(parent) = value_at_mut(obj, &parents) else {
        return;
    };
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = parent.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(keys) = last.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
        if let Some(list) = parent.as_array_mut() {
            list.retain(|item| !has_keys(item, &want));
        }
    } else if let Some(v) = last.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).unwrap_or(Value::Null);
        if let Some(list) = parent.as_array_mut() {
            list.retain(|x| *x != want);
        }
    }
}
