//! Resolving a DNS load balancer's host name (AWS) to the IP address kube-dns and CoreDNS can
//! forward to: through a DNS server the user names (`dns_resolver`, e.g. a VPC resolver), or the
//! provider's system resolver.
use crate::kubernetes::readiness::load_balancer_address;
use k8s_openapi::api::core::v1::Service;
use kube_codecs::dns;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a load balancer's host name gave no address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Name(dns::DnsError),
    #[error("querying {server} failed: {source}")]
    Query {
        server: SocketAddr,
        source: std::io::Error,
    },
    #[error("{server} did not answer within {}s", QUERY_TIMEOUT.as_secs())]
    NoAnswer { server: SocketAddr },
    #[error("{server} answered with no usable response: {source}")]
    Answer {
        server: SocketAddr,
        source: dns::DnsError,
    },
    #[error("resolving it failed: {0}")]
    Lookup(std::io::Error),
    #[error("it resolves to no address")]
    NoAddress,
}

/// A recursive A query for `name`; empty when `name` is not a DNS name (an empty or over-long label).
pub fn query_packet(id: u16, name: &str) -> Vec<u8> {
    dns::a_query(id, name).unwrap_or_default()
}

async fn query(server: SocketAddr, name: &str) -> Result<Vec<Ipv4Addr>, ResolveError> {
    let packet_id = std::process::id() as u16 ^ name.len() as u16;
    let packet = query_packet(packet_id, name);
    if packet.is_empty() {
        return Err(ResolveError::Name(dns::DnsError::InvalidName(
            name.to_string(),
        )));
    }
    let failed = |source| ResolveError::Query { server, source };
    let socket = tokio::net::UdpSocket::bind(if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .await
    .map_err(failed)?;
    socket.send_to(&packet, server).await.map_err(failed)?;
    let mut buf = [0u8; 1500];
    let len = tokio::time::timeout(QUERY_TIMEOUT, socket.recv(&mut buf))
        .await
        .map_err(|_| ResolveError::NoAnswer { server })?
        .map_err(failed)?;
    dns::parse_a_response(&buf[..len], packet_id)
        .map_err(|source| ResolveError::Answer { server, source })
}

/// The IP address peers forward to for a load balancer `address` (an IP, or a host name).
pub async fn dns_ip(address: &str, resolver: Option<SocketAddr>) -> Result<String, ResolveError> {
    if address.parse::<IpAddr>().is_ok() {
        return Ok(address.to_string());
    }
    let resolved: Vec<IpAddr> = match resolver {
        Some(server) => query(server, address)
            .await?
            .into_iter()
            .map(IpAddr::V4)
            .collect(),
        None => tokio::net::lookup_host((address, 53))
            .await
            .map_err(ResolveError::Lookup)?
            .map(|socket| socket.ip())
            .collect(),
    };
    let ip = resolved.iter().find(|ip| ip.is_ipv4()).or(resolved.first());
    ip.map(ToString::to_string).ok_or(ResolveError::NoAddress)
}

/// The IP peers forward to for a DNS load balancer Service found at import, if it has an address yet and the
/// system resolver knows its host name: best effort, the first apply records it otherwise.
pub async fn service_dns_ip(service: Option<&Service>) -> Option<String> {
    let address = service.and_then(load_balancer_address)?;
    dns_ip(&address, None).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_dns_cannot_carry_is_refused_before_asking() {
        let resolver: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let long_label = format!("{}.example", "a".repeat(64));
        let error = dns_ip(&long_label, Some(resolver))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a valid DNS name"), "{error}");
        assert!(query_packet(1, &long_label).is_empty());
    }

    #[tokio::test]
    async fn addresses_become_ip_addresses() {
        assert_eq!(dns_ip("203.0.113.7", None).await.unwrap(), "203.0.113.7");
        // The system resolver answers `localhost` from the hosts file.
        assert_eq!(dns_ip("localhost", None).await.unwrap(), "127.0.0.1");
    }
}
