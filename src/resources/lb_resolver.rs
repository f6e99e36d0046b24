//! Resolving a DNS load balancer's host name (AWS) to the IP address kube-dns and CoreDNS can
//! forward to: through a DNS server the user names (`dns_resolver`, e.g. a VPC resolver), or the
//! provider's system resolver.
use crate::kubernetes::readiness::load_balancer_address;
use k8s_openapi::api::core::v1::Service;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A recursive A query for `name`.
pub fn query_packet(id: u16, name: &str) -> Vec<u8> {
    let mut packet = Vec::with_capacity(18 + name.len());
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&[0x01, 0x00]); // recursion desired
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&TYPE_A.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    packet
}

/// Moves past a (possibly compressed) name.
fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        if len & 0xc0 == 0xc0 {
            return Some(at + 2);
        }
        at += 1 + len as usize;
        if len == 0 {
            return Some(at);
        }
    }
}

/// The A records of a response to query `id`.
pub fn parse_a_answers(packet: &[u8], id: u16) -> Result<Vec<Ipv4Addr>, String> {
    let malformed = || "malformed DNS response".to_string();
    if packet.len() < 12 || u16::from_be_bytes([packet[0], packet[1]]) != id {
        return Err(malformed());
    }
    match packet[3] & 0x0f {
        0 => {}
        3 => return Err("no such name (NXDOMAIN)".into()),
        code => return Err(format!("the DNS server answered with error code {code}")),
    }
    let questions = u16::from_be_bytes([packet[4], packet[5]]);
    let answers = u16::from_be_bytes([packet[6], packet[7]]);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at).ok_or_else(malformed)? + 4;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        at = skip_name(packet, at).ok_or_else(malformed)?;
        let header = packet.get(at..at + 10).ok_or_else(malformed)?;
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let length = u16::from_be_bytes([header[8], header[9]]) as usize;
        let data = packet
            .get(at + 10..at + 10 + length)
            .ok_or_else(malformed)?;
        if rtype == TYPE_A && length == 4 {
            addresses.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        at += 10 + length;
    }
    Ok(addresses)
}

async fn query(server: SocketAddr, name: &str) -> Result<Vec<Ipv4Addr>, String> {
    let socket = tokio::net::UdpSocket::bind(if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .await
    .map_err(|e| e.to_string())?;
    let id = std::process::id() as u16 ^ name.len() as u16;
    socket
        .send_to(&query_packet(id, name), server)
        .await
        .map_err(|e| format!("querying {server} failed: {e}"))?;
    let mut buf = [0u8; 1500];
    let len = tokio::time::timeout(QUERY_TIMEOUT, socket.recv(&mut buf))
        .await
        .map_err(|_| {
            format!(
                "{server} did not answer within {}s",
                QUERY_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("querying {server} failed: {e}"))?;
    parse_a_answers(&buf[..len], id)
}

/// The IP address peers forward to for a load balancer `address` (an IP, or a host name).
pub async fn dns_ip(address: &str, resolver: Option<SocketAddr>) -> Result<String, String> {
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
            .map_err(|e| format!("resolving it failed: {e}"))?
            .map(|socket| socket.ip())
            .collect(),
    };
    let ip = resolved.iter().find(|ip| ip.is_ipv4()).or(resolved.first());
    ip.map(ToString::to_string)
        .ok_or_else(|| "it resolves to no address".to_string())
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

    #[test]
    fn answers_are_read_past_compressed_names() {
        let query = query_packet(7, "lb.example");
        // The question echoed, then two answers naming it by pointer: a CNAME-like record to skip
        // and an A record.
        let mut response = query.clone();
        response[2] = 0x81;
        response[3] = 0x80;
        response[7] = 2;
        response.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xc0, 12]);
        response.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 51, 100, 7]);
        assert_eq!(
            parse_a_answers(&response, 7).unwrap(),
            vec![Ipv4Addr::new(198, 51, 100, 7)]
        );
        assert!(
            parse_a_answers(&response, 8).is_err(),
            "another query's answer"
        );
        response[3] = 0x83;
        assert!(parse_a_answers(&response, 7)
            .unwrap_err()
            .contains("NXDOMAIN"));
    }

    #[tokio::test]
    async fn addresses_become_ip_addresses() {
        assert_eq!(dns_ip("203.0.113.7", None).await.unwrap(), "203.0.113.7");
        // The system resolver answers `localhost` from the hosts file.
        assert_eq!(dns_ip("localhost", None).await.unwrap(), "127.0.0.1");
    }
}
