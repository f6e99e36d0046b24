//! The files a container sees in its certs directory, assembled from the pod's secret and projected volumes the
//! way the kubelet writes them (keys or `items` paths, `defaultMode`/`mode`).

use base64::Engine;
use serde_json::Value;

use super::certs::{CertFile, CertsDir};

/// Why the kubelet cannot mount a volume: the pod stays in ContainerCreating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountError(pub String);

/// Every secret volume the container mounts must exist (unless optional), as the kubelet requires before starting
/// it. `secret(name)` returns the Secret object.
pub fn check_mounts(
    pod: &Value,
    container: &Value,
    secret: &dyn Fn(&str) -> Option<Value>,
) -> Result<(), MountError> {
    for m in container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(vol) = volume(pod, m.get("name").and_then(Value::as_str).unwrap_or("")) else {
            return Err(MountError(format!(
                "volume {:?} not found in the pod spec",
                m.get("name")
            )));
        };
        for (name, items, optional) in secret_sources(vol) {
            let Some(s) = secret(&name) else {
                if optional {
                    continue;
                }
                return Err(MountError(format!(
                    "MountVolume.SetUp failed for volume \"{}\" : secret \"{name}\" not found",
                    vol_name(vol)
                )));
            };
            for item in items.iter() {
                let key = item.get("key").and_then(Value::as_str).unwrap_or("");
                if data_of(&s, key).is_none() && !optional {
                    return Err(MountError(format!(
                        "MountVolume.SetUp failed for volume \"{}\" : references non-existent secret key: {key}",
                        vol_name(vol)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The certs directory at `dir` for this container: the secret-backed volume mounted there.
pub fn certs_dir(
    pod: &Value,
    container: &Value,
    dir: &str,
    secret: &dyn Fn(&str) -> Option<Value>,
) -> Option<CertsDir> {
    let dir = dir.trim_end_matches('/');
    let mount = container
        .get("volumeMounts")
        .and_then(Value::as_array)?
        .iter()
        .find(|m| {
            m.get("mountPath")
                .and_then(Value::as_str)
                .map(|p| p.trim_end_matches('/'))
                == Some(dir)
        })?;
    let vol = volume(pod, mount.get("name").and_then(Value::as_str)?)?;
    let default_mode = vol
        .pointer("/secret/defaultMode")
        .or_else(|| vol.pointer("/projected/defaultMode"))
        .and_then(Value::as_u64)
        .unwrap_or(0o644) as u32;
    let mut files = CertsDir::new();
    for (name, items, _) in secret_sources(vol) {
        let Some(s) = secret(&name) else { continue };
        if items.is_empty() {
            for key in keys_of(&s) {
                if let Some(data) = data_of(&s, &key) {
                    files.insert(
                        key,
                        CertFile {
                            data,
                            mode: default_mode,
                        },
                    );
                }
            }
        } else {
            for item in &items {
                let key = item.get("key").and_then(Value::as_str).unwrap_or("");
                let path = item.get("path").and_then(Value::as_str).unwrap_or(key);
                let mode = item
                    .get("mode")
                    .and_then(Value::as_u64)
                    .map(|m| m as u32)
                    .unwrap_or(default_mode);
                if let Some(data) = data_of(&s, key) {
                    files.insert(path.to_string(), CertFile { data, mode });
                }
            }
        }
    }
    Some(files)
}

fn volume<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod.pointer("/spec/volumes")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
}

fn vol_name(vol: &Value) -> &str {
    vol.get("name").and_then(Value::as_str).unwrap_or("")
}

/// (secret name, items, optional) for a `secret` volume or each secret source of a `projected` one.
fn secret_sources(vol: &Value) -> Vec<(String, Vec<Value>, bool)> {
    let entry = |s: &Value, name_key: &str| {
        (
            s.get(name_key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            s.get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            s.get("optional").and_then(Value::as_bool).unwrap_or(false),
        )
    };
    let mut out = Vec::new();
    if let Some(s) = vol.get("secret") {
        out.push(entry(s, "secretName"));
    }
    for src in vol
        .pointer("/projected/sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = src.get("secret") {
            out.push(entry(s, "name"));
        }
    }
    out
}

fn keys_of(secret: &Value) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(m) = secret.get(field).and_then(Value::as_object) {
            keys.extend(m.keys().cloned());
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn data_of(secret: &Value, key: &str) -> Option<Vec<u8>> {
    if let Some(s) = secret
        .pointer("/stringData")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
    {
        return Some(s.as_bytes().to_vec());
    }
    let b64 = secret
        .pointer("/data")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret() -> Value {
        json!({"data": {"ca.crt": "Q0E=", "node.crt": "Tk9ERQ==", "node.key": "S0VZ"}})
    }

    fn pod(vol: Value) -> (Value, Value) {
        let pod = json!({"spec": {"volumes": [vol]}});
        let c = json!({"volumeMounts": [{"name": "certs", "mountPath": "/cockroach/cockroach-certs/"}]});
        (pod, c)
    }

    #[test]
    fn secret_volume_files_with_modes() {
        let (p, c) = pod(
            json!({"name": "certs", "secret": {"secretName": "cockroachdb.node", "defaultMode": 256}}),
        );
        let lookup = |n: &str| (n == "cockroachdb.node").then(secret);
        let dir = certs_dir(&p, &c, "/cockroach/cockroach-certs", &lookup).unwrap();
        assert_eq!(dir["node.crt"].data, b"NODE");
        assert_eq!(dir["node.key"].mode, 0o400);
        assert!(check_mounts(&p, &c, &lookup).is_ok());
    }

    #[test]
    fn projected_items_rename_and_missing_secret_blocks_mount() {
        let (p, c) = pod(
            json!({"name": "certs", "projected": {"defaultMode": 256, "sources": [
            {"secret": {"name": "s", "items": [{"key": "node.crt", "path": "client.node.crt", "mode": 384}]}}]}}),
        );
        let lookup = |n: &str| (n == "s").then(secret);
        let dir = certs_dir(&p, &c, "/cockroach/cockroach-certs", &lookup).unwrap();
        assert_eq!(dir.keys().collect::<Vec<_>>(), vec!["client.node.crt"]);
        assert_eq!(dir["client.node.crt"].mode, 0o600);
        let none = |_: &str| None;
        assert!(check_mounts(&p, &c, &none)
            .unwrap_err()
            .0
            .contains("secret \"s\" not found"));
    }
}
