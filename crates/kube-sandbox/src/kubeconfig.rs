//! Kubeconfig documents (JSON, which kubectl and kube-rs read as YAML): one cluster, user and context per name.

use base64::Engine;
use serde_json::{json, Value};

pub struct Entry<'a> {
    pub name: &'a str,
    pub server: &'a str,
    pub ca_pem: &'a str,
    pub token: &'a str,
}

pub fn render(entries: &[Entry<'_>]) -> Value {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": entries.first().map(|e| e.name).unwrap_or(""),
        "clusters": entries.iter().map(|e| json!({
            "name": e.name,
            "cluster": {"server": e.server, "certificate-authority-data": b64(e.ca_pem)},
        })).collect::<Vec<_>>(),
        "users": entries.iter().map(|e| json!({"name": e.name, "user": {"token": e.token}})).collect::<Vec<_>>(),
        "contexts": entries.iter().map(|e| json!({
            "name": e.name,
            "context": {"cluster": e.name, "user": e.name},
        })).collect::<Vec<_>>(),
    })
}

/// Writes the kubeconfig readable by its owner only: it holds bearer tokens.
pub fn write(path: &std::path::Path, doc: &Value) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(
        serde_json::to_string_pretty(doc)
            .map_err(std::io::Error::other)?
            .as_bytes(),
    )?;
    f.write_all(b"\n")
}
