//! kube-dns: the `stubDomains` key of ConfigMap `kube-system/kube-dns`, a JSON object of domain -> nameserver IPs.
//!
//! Entries of others are carried over as the JSON values they are, whatever their shape. When nothing of ours
//! changes, the existing text is returned untouched, so an apply that changes nothing writes nothing.

use serde_json::{Map, Value};

use super::error::DnsError;
use super::forwards::{ForwardMap, Forwards};
use crate::cockroach::manifests::DnsProtocol;

pub const STUB_DOMAINS_KEY: &str = "stubDomains";

fn parse(existing: Option<&str>) -> Result<Map<String, Value>, DnsError> {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(DnsError::UnparsableStubDomains(format!(
            "found a JSON {}",
            json_kind(&other)
        ))),
        Err(e) => Err(DnsError::UnparsableStubDomains(e.to_string())),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Adds or replaces our domains in `existing` (the current `stubDomains`, None when the key is absent). kube-dns
/// (dnsmasq) forwards a query over UDP and retries over TCP only when an answer comes back truncated, so a peer
/// whose load balancer serves TCP only would never answer: such a peer is refused.
pub fn merge_stub_domains(existing: Option<&str>, forwards: &Forwards) -> Result<String, DnsError> {
    let before = parse(existing)?;
    let mut after = before.clone();
    for (zone, domain, addresses) in forwards.entries() {
        if forwards.protocol(zone) == DnsProtocol::Tcp {
            return Err(DnsError::TcpPeerForKubeDns(zone.to_owned()));
        }
        let servers = addresses
            .iter()
            .map(|a| Value::String(a.to_string()))
            .collect();
        after.insert(domain, Value::Array(servers));
    }
    match existing {
        Some(text) if after == before => Ok(text.to_owned()),
        _ => Ok(Value::Object(after).to_string()),
    }
}

/// Takes exactly `domains` out of `existing`. None when no entry is left, so the caller removes the key instead of
/// leaving an empty object behind.
pub fn remove_stub_domains(
    existing: Option<&str>,
    domains: &[String],
) -> Result<Option<String>, DnsError> {
    let mut map = parse(existing)?;
    let mut removed = false;
    for domain in domains {
        removed |= map.remove(domain).is_some();
    }
    if map.is_empty() {
        return Ok(None);
    }
    if !removed {
        return Ok(existing.map(str::to_owned));
    }
    Ok(Some(Value::Object(map).to_string()))
}

/// Every stub domain with its nameservers, for drift detection. Entries that are not lists of strings are not
/// kube-dns stub domains and are skipped.
pub fn read_stub_domains(existing: Option<&str>) -> Result<ForwardMap, DnsError> {
    Ok(parse(existing)?
        .into_iter()
        .filter_map(|(domain, servers)| {
            let servers = servers
                .as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?;
            Some((domain, servers))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::forwards::for_tests::forwards;
    use std::collections::BTreeMap;

    use super::*;

    const FOREIGN: &str =
        r#"{"acme.internal": ["10.1.1.1", "10.1.1.2"], "odd.example": {"kept": true}}"#;

    #[test]
    fn merging_adds_ours_and_keeps_every_foreign_entry() {
        let ours = forwards(&[
            ("east", &["203.0.113.2"]),
            ("west", &["203.0.113.1", "198.51.100.1"]),
        ]);
        let merged = merge_stub_domains(Some(FOREIGN), &ours).unwrap();
        let value: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(
            value["acme.internal"],
            serde_json::json!(["10.1.1.1", "10.1.1.2"])
        );
        assert_eq!(value["odd.example"], serde_json::json!({"kept": true}));
        assert_eq!(
            value["east.svc.cluster.local"],
            serde_json::json!(["203.0.113.2"])
        );
        assert_eq!(
            value["west.svc.cluster.local"],
            serde_json::json!(["203.0.113.1", "198.51.100.1"])
        );
        assert!(value.get("north.svc.cluster.local").is_none());
        let read = read_stub_domains(Some(&merged)).unwrap();
        assert_eq!(
            read["west.svc.cluster.local"],
            vec!["203.0.113.1", "198.51.100.1"]
        );
        assert!(!read.contains_key("odd.example"));
    }

    #[test]
    fn a_peer_serving_tcp_only_is_refused_since_kube_dns_asks_over_udp() {
        let tcp_west = BTreeMap::from([("west".to_owned(), DnsProtocol::Tcp)]);
        let ours = forwards(&[("east", &["203.0.113.2"]), ("west", &["203.0.113.1"])]);
        assert_eq!(
            merge_stub_domains(None, &ours.clone().with_protocols(&tcp_west)),
            Err(DnsError::TcpPeerForKubeDns("west".into()))
        );
        assert!(merge_stub_domains(None, &ours).is_ok());
    }

    #[test]
    fn merging_replaces_our_changed_addresses_and_is_a_no_op_when_unchanged() {
        let first = merge_stub_domains(None, &forwards(&[("east", &["203.0.113.2"])])).unwrap();
        assert_eq!(first, r#"{"east.svc.cluster.local":["203.0.113.2"]}"#);
        let moved =
            merge_stub_domains(Some(&first), &forwards(&[("east", &["203.0.113.7"])])).unwrap();
        assert_eq!(
            read_stub_domains(Some(&moved)).unwrap()["east.svc.cluster.local"],
            vec!["203.0.113.7"]
        );
        let spaced = "{ \"east.svc.cluster.local\" : [ \"203.0.113.7\" ] }";
        assert_eq!(
            merge_stub_domains(Some(spaced), &forwards(&[("east", &["203.0.113.7"])])).unwrap(),
            spaced,
            "nothing changed, nothing rewritten"
        );
    }

    #[test]
    fn add_then_remove_restores_the_original_entries() {
        let ours = forwards(&[("east", &["203.0.113.2"]), ("west", &["203.0.113.1"])]);
        let merged = merge_stub_domains(Some(FOREIGN), &ours).unwrap();
        let removed = remove_stub_domains(Some(&merged), &ours.domains())
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&removed).unwrap(),
            serde_json::from_str::<Value>(FOREIGN).unwrap()
        );
        assert_eq!(
            remove_stub_domains(Some(FOREIGN), &ours.domains())
                .unwrap()
                .as_deref(),
            Some(FOREIGN),
            "removing what is not there changes nothing"
        );
        let only_ours = merge_stub_domains(None, &ours).unwrap();
        assert_eq!(
            remove_stub_domains(Some(&only_ours), &ours.domains()).unwrap(),
            None
        );
        assert_eq!(remove_stub_domains(None, &ours.domains()).unwrap(), None);
    }

    #[test]
    fn removal_takes_exactly_the_given_domains() {
        let ours = forwards(&[("east", &["203.0.113.2"]), ("west", &["203.0.113.1"])]);
        let merged = merge_stub_domains(Some(FOREIGN), &ours).unwrap();
        let removed = remove_stub_domains(Some(&merged), &["east.svc.cluster.local".to_owned()])
            .unwrap()
            .unwrap();
        let read = read_stub_domains(Some(&removed)).unwrap();
        assert!(read.contains_key("west.svc.cluster.local"));
        assert!(read.contains_key("acme.internal"));
        assert!(!read.contains_key("east.svc.cluster.local"));
    }

    #[test]
    fn unparsable_existing_json_is_an_error_not_overwritten() {
        let ours = forwards(&[("east", &["203.0.113.2"])]);
        for bad in ["{", "[1]", "\"x\"", "{\"a\": [1,]}"] {
            let err = merge_stub_domains(Some(bad), &ours).unwrap_err();
            assert!(
                matches!(err, DnsError::UnparsableStubDomains(_)),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("will not overwrite"));
            assert!(remove_stub_domains(Some(bad), &ours.domains()).is_err());
            assert!(read_stub_domains(Some(bad)).is_err());
        }
        assert!(
            merge_stub_domains(Some("  "), &ours).is_ok(),
            "blank means none"
        );
    }
}
