//! A DNS server on loopback answering A queries for the load balancers' host names, as a cloud's
//! resolver answers for an AWS load balancer's name. Only those names exist; everything else is
//! NXDOMAIN. The provider under test points its `dns_resolver` at it.
use crate::world::World;
use kube_codecs::dns;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;

/// Binds a UDP port on loopback and answers from the world's load balancers until dropped.
pub async fn start(
    world: Arc<World>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let addr = socket.local_addr()?;
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            let Some(question) = dns::parse_query(&buf[..len]) else {
                continue;
            };
            let addresses: Vec<Ipv4Addr> = world
                .resolve_lb_hostname(&question.name)
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect();
            let _ = socket
                .send_to(&dns::a_response(&question, &addresses), peer)
                .await;
        }
    });
    Ok((addr, task))
}
