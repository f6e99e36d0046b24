//! A DNS server on loopback answering A queries for the load balancers' host names, as a cloud's
//! resolver answers for an AWS load balancer's name. Only those names exist; everything else is
//! NXDOMAIN. The provider under test points its `dns_resolver` at it.
use crate::world::World;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;

/// One question from a query, with the bytes it occupied so the answer can echo them.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    question_end: usize,
}

pub fn parse_query(packet: &[u8]) -> Option<Question> {
    if packet.len() < 12 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = *packet.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(
            std::str::from_utf8(packet.get(at..at + len)?)
                .ok()?
                .to_ascii_lowercase(),
        );
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    Some(Question {
        id: u16::from_be_bytes([packet[0], packet[1]]),
        name: labels.join("."),
        qtype,
        question_end: at + 4,
    })
}

/// The response to `query`: the addresses as A records, or NXDOMAIN when there are none.
pub fn answer(query: &[u8], question: &Question, addresses: &[Ipv4Addr]) -> Vec<u8> {
    let answers: &[Ipv4Addr] = if question.qtype == TYPE_A {
        addresses
    } else {
        &[]
    };
    let rcode = if addresses.is_empty() { 3 } else { 0 };
    let mut out = Vec::with_capacity(question.question_end + 16 * answers.len());
    out.extend_from_slice(&question.id.to_be_bytes());
    out.extend_from_slice(&[0x84, rcode]); // response, authoritative
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..question.question_end]);
    for ip in answers {
        out.extend_from_slice(&[0xc0, 12]); // the name, by pointer to the question
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&30u32.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// Binds a UDP port on loopback and answers from the world's load balancers until dropped.
pub async fn start(
    world: Arc<World>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let addr = socket.local_addr()?;
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            let query = &buf[..len];
            let Some(question) = parse_query(query) else {
                continue;
            };
            let addresses: Vec<Ipv4Addr> = world
                .resolve_lb_hostname(&question.name)
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect();
            let _ = socket
                .send_to(&answer(query, &question, &addresses), peer)
                .await;
        }
    });
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    #[test]
    fn answers_a_records_for_known_names_and_nxdomain_otherwise() {
        let q = query("a0001dns-1234abcd.elb.sandbox.invalid", TYPE_A);
        let question = parse_query(&q).unwrap();
        assert_eq!(question.name, "a0001dns-1234abcd.elb.sandbox.invalid");
        let response = answer(&q, &question, &[Ipv4Addr::new(203, 0, 113, 9)]);
        assert_eq!(&response[..2], &[0x12, 0x34]);
        assert_eq!(response[3] & 0x0f, 0, "NOERROR");
        assert_eq!(
            u16::from_be_bytes([response[6], response[7]]),
            1,
            "one answer"
        );
        assert_eq!(&response[response.len() - 4..], &[203, 0, 113, 9]);
        let missing = answer(&q, &question, &[]);
        assert_eq!(missing[3] & 0x0f, 3, "NXDOMAIN");
        assert!(parse_query(&q[..10]).is_none());
    }
}
