//! How a real API server reaches the emulated pods and kubelets. kube-apiserver proxies to no loopback address
//! (`pods/proxy` answers "address not allowed"), so pods keep the sandbox's own addresses (10.x.y.z, reached by
//! nothing) and each attached API server is started with `HTTPS_PROXY` naming this cluster's pod proxy: its
//! `pods/proxy` transport, which honours the environment's proxy, then opens a CONNECT tunnel here for the pod's
//! address and port, and the sandbox answers inside it as the pod's emulated program would
//! (`cockroach::http::serve`). One kubelet endpoint per cluster (every Node names it, at 127.0.0.1) serves
//! `containerLogs`, so `pods/log` goes through the API server too.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::api::proxy::ProxyTarget;
use crate::controllers::meta;
use crate::world::World;

/// The longest CONNECT request head the proxy reads.
const HEAD_LIMIT: usize = 8192;

/// Serves cluster `cluster`'s pods to its API server on `listener`: a CONNECT to `<pod IP>:<port>` is answered by
/// that pod's emulated program, over TLS when the API server opens with a handshake (`https:` proxying, whose
/// certificate it does not check). Only CONNECT is served: the API server sends `http:` proxying as plain
/// requests to the proxy, which the provider never asks for.
pub fn serve_pods(
    cluster: &str,
    world: Arc<World>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> JoinHandle<()> {
    let (cluster, tls) = (cluster.to_string(), TlsAcceptor::from(tls));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (world, cluster, tls) = (world.clone(), cluster.clone(), tls.clone());
            tokio::spawn(async move {
                let _ = tunnel(stream, &world, &cluster, &tls).await;
            });
        }
    })
}

async fn tunnel(
    mut stream: TcpStream,
    world: &Arc<World>,
    cluster: &str,
    tls: &TlsAcceptor,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let Some((ip, port)) = connect_target(&head) else {
        stream
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let Some(pod) = pod_at(world, cluster, &ip) else {
        stream
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    stream
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    let target = ProxyTarget {
        namespace: meta::namespace(&pod).to_string(),
        pod: meta::name(&pod).to_string(),
        scheme: None,
        port: Some(port),
        path: String::new(),
        query: None,
    };
    let (world, cluster) = (world.clone(), cluster.to_string());
    let answer = move |scheme: &'static str, request: Request<Incoming>| {
        let mut target = target.clone();
        target.scheme = Some(scheme.to_string());
        target.path = request.uri().path().to_string();
        target.query = request.uri().query().map(String::from);
        crate::cockroach::http::serve(&world, &cluster, &target)
            .map(|a| {
                Response::builder()
                    .status(a.status)
                    .header(http::header::CONTENT_TYPE, a.content_type)
                    .body(Full::new(Bytes::from(a.body)))
                    .expect("a response")
            })
            // Nothing listening in the emulated pod: the connection ends unanswered.
            .map_err(|e| e.message)
    };
    serve_connection(stream, tls, answer).await;
    Ok(())
}

/// The request head, up to its blank line.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= HEAD_LIMIT || stream.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// `CONNECT <ip>:<port> HTTP/1.1` → the address and port.
fn connect_target(head: &str) -> Option<(String, String)> {
    let mut words = head.lines().next()?.split_whitespace();
    if words.next()? != "CONNECT" {
        return None;
    }
    let (ip, port) = words.next()?.rsplit_once(':')?;
    Some((ip.trim_matches(['[', ']']).to_string(), port.to_string()))
}

/// The live pod of the cluster whose address is `ip`.
fn pod_at(world: &World, cluster: &str, ip: &str) -> Option<Value> {
    let pods = crate::store::resource_type("pods")?;
    world
        .cluster(cluster)?
        .store
        .list(pods, None)
        .into_iter()
        .find(|p| meta::str_at(p, "/status/podIP") == Some(ip) && !meta::is_deleting(p))
}

/// A kubelet's endpoint for an attached cluster, as every Node of it names it: `containerLogs` answers with the
/// pod's log (what `kubectl logs` and the provider's Jobs read through the API server).
pub async fn serve_kubelet(
    cluster: &str,
    world: Arc<World>,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (cluster, tls) = (cluster.to_string(), TlsAcceptor::from(tls));
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (world, cluster, tls) = (world.clone(), cluster.clone(), tls.clone());
            tokio::spawn(async move {
                let answer = move |_: &'static str, request: Request<Incoming>| {
                    let path = request.uri().path().to_string();
                    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                    let (status, body) = match parts.as_slice() {
                        ["containerLogs", namespace, pod, _container] => {
                            (200, world.pod_log(&cluster, namespace, pod))
                        }
                        _ => (
                            404,
                            format!("{path} is not served by the sandbox's kubelet"),
                        ),
                    };
                    Ok::<_, String>(
                        Response::builder()
                            .status(status)
                            .header(http::header::CONTENT_TYPE, "text/plain")
                            .body(Full::new(Bytes::from(body)))
                            .expect("a response"),
                    )
                };
                serve_connection(stream, &tls, answer).await;
            });
        }
    });
    Ok((addr, task))
}

/// Serves one connection over TLS when it opens with a TLS handshake (the API server proxies `https:` that way,
/// without checking the certificate), in plain HTTP/1.1 otherwise.
async fn serve_connection<F>(stream: TcpStream, tls: &TlsAcceptor, answer: F)
where
    F: Fn(&'static str, Request<Incoming>) -> Result<Response<Full<Bytes>>, String>
        + Send
        + 'static,
{
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    let is_tls = matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16);
    let builder = hyper::server::conn::http1::Builder::new();
    if is_tls {
        let Ok(stream) = tls.accept(stream).await else {
            return;
        };
        let service = service_fn(move |r| std::future::ready(answer("https", r)));
        let _ = builder
            .serve_connection(TokioIo::new(stream), service)
            .await;
    } else {
        let service = service_fn(move |r| std::future::ready(answer("http", r)));
        let _ = builder
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The API server's CONNECT names the pod's address and port; anything else is no tunnel.
    #[test]
    fn a_tunnel_is_asked_for_with_connect_to_an_address_and_port() {
        assert_eq!(
            connect_target("CONNECT 10.77.0.4:8080 HTTP/1.1\r\nHost: 10.77.0.4:8080\r\n\r\n"),
            Some(("10.77.0.4".to_string(), "8080".to_string()))
        );
        assert_eq!(
            connect_target("CONNECT [fd00::4]:8080 HTTP/1.1\r\n\r\n"),
            Some(("fd00::4".to_string(), "8080".to_string()))
        );
        assert_eq!(
            connect_target("GET http://10.77.0.4:8080/health HTTP/1.1\r\n\r\n"),
            None
        );
        assert_eq!(connect_target("CONNECT 10.77.0.4 HTTP/1.1\r\n\r\n"), None);
    }
}
