//! Template hashes, computed the way the real controllers name revisions: FNV-32a over the object, rendered with
//! Kubernetes' "safe" alphabet (no vowels, no confusable digits), so names look like `cockroachdb-7b9d6c4f5`.

use serde_json::Value;

/// Hash of a pod template, independent of JSON key order.
pub fn template_hash(template: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(template, &mut canonical);
    safe_encode(&fnv32a(canonical.as_bytes()).to_string())
}

fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Maps each character to the alphabet Kubernetes uses for generated names (`rand.SafeEncodeString`).
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// Sorted-key JSON, so a store that keeps insertion order still hashes equal templates equally.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_and_content_does() {
        let a = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}});
        let b: Value = serde_json::from_str(r#"{"spec":{"containers":[{"image":"i:1","name":"c"}]},"metadata":{"labels":{"app":"x"}}}"#).unwrap();
        assert_eq!(template_hash(&a), template_hash(&b));
        let c = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:2"}]}});
        assert_ne!(template_hash(&a), template_hash(&c));
    }

    #[test]
    fn hashes_use_the_safe_alphabet() {
        let h = template_hash(&json!({"a": 1}));
        assert!(
            !h.is_empty() && h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{h}"
        );
    }
}
