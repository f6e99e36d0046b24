//! What the kubelet does to a container's command line before it starts it: the container's environment
//! (`value`, `valueFrom.configMapKeyRef`) is resolved once, as the container is created, and `$(NAME)` in
//! `command` and `args` is replaced by a defined variable's value (`$$` is a literal `$`; a reference to a name
//! not defined stays as written, so a shell's `$(hostname -f)` reaches the shell). A running container keeps what
//! it was started with when the ConfigMap changes later; a new or restarted pod reads the new value.
use serde_json::Value;
use std::collections::BTreeMap;

/// The container's variables, in order; one whose ConfigMap or key is missing is left out (the real kubelet
/// refuses to start the container, `CreateContainerConfigError`, unless the reference is optional).
pub fn variables(
    container: &Value,
    config_map: impl Fn(&str, &str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for entry in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match entry.get("value").and_then(Value::as_str) {
            Some(v) => Some(expand(v, &vars)),
            None => entry.pointer("/valueFrom/configMapKeyRef").and_then(|r| {
                let map = r.get("name")?.as_str()?;
                let key = r.get("key")?.as_str()?;
                config_map(map, key)
            }),
        };
        if let Some(value) = value {
            vars.insert(name.to_string(), value);
        }
    }
    vars
}

/// `$(NAME)` replaced as the kubelet replaces it.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        if let Some(inner) = after.strip_prefix('(') {
            if let Some(end) = inner.find(')') {
                if let Some(value) = vars.get(&inner[..end]) {
                    out.push_str(value);
                    rest = &inner[end + 1..];
                    continue;
                }
            }
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The container with its `command` and `args` expanded.
pub fn resolved(container: &Value, config_map: impl Fn(&str, &str) -> Option<String>) -> Value {
    let vars = variables(container, config_map);
    let mut resolved = container.clone();
    if vars.is_empty() {
        return resolved;
    }
    for key in ["command", "args"] {
        if let Some(parts) = resolved.get_mut(key).and_then(Value::as_array_mut) {
            for part in parts.iter_mut() {
                if let Some(text) = part.as_str() {
                    *part = Value::String(expand(text, &vars));
                }
            }
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defined_references_expand_and_the_rest_stays_for_the_shell() {
        let c = json!({
            "env": [
                {"name": "JOIN", "valueFrom": {"configMapKeyRef": {"name": "cockroachdb-join", "key": "join"}}},
                {"name": "GREETING", "value": "hi $(JOIN)"},
                {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}
            ],
            "command": ["/bin/bash", "-c", "exec cockroach start --join=$(JOIN) --advertise-host=$(hostname -f) $(MISSING) $$(JOIN) $(GREETING)"]
        });
        let lookup = |map: &str, key: &str| {
            (map == "cockroachdb-join" && key == "join").then(|| "a,b".to_string())
        };
        let out = resolved(&c, lookup);
        assert_eq!(
            out["command"][2],
            "exec cockroach start --join=a,b --advertise-host=$(hostname -f) $(MISSING) $(JOIN) hi a,b"
        );
    }

    #[test]
    fn a_container_without_variables_is_unchanged() {
        let c = json!({"command": ["cockroach", "start", "--join=$(X)"]});
        assert_eq!(resolved(&c, |_, _| None), c);
    }
}
