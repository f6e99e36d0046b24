//! TLS listener, bearer-token authentication, fault injection and routing for one cluster.
//! Taking the API down closes the listener (connections are refused) and drops open connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::body::{self, Resp};
use super::discovery;
use super::handlers::{self, LogSource};
use super::query::Query;
use super::route::{self, Route};
use crate::error::ApiError;
use crate::faults::{Fault, Faults};
use crate::store::Store;

/// Largest request body accepted, as on a real API server (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

pub struct ApiServer {
    pub name: String,
    pub addr: SocketAddr,
    pub token: String,
    pub ca_pem: String,
    pub store: Arc<Store>,
    pub faults: Arc<Faults>,
    tls: Arc<rustls::ServerConfig>,
    running: Mutex<Option<Running>>,
    logs: OnceLock<LogSource>,
    proxy: OnceLock<super::proxy::ProxySource>,
    availability: OnceLock<AvailabilitySource>,
    /// Every write request served (`PATCH /apis/apps/v1/namespaces/a/statefulsets/x`), for tests that count them.
    writes: Mutex<Vec<String>>,
    /// Whether write requests to resources are kept whole, and the ones kept (`Sandbox::capture_writes`).
    capturing: AtomicBool,
    captured: Mutex<Vec<CapturedRequest>>,
}

/// A write request to a resource (dry runs included), whole: what another server is sent to compare answers.
#[derive(Clone, Debug)]
pub struct CapturedRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// What `/sandbox/availability` serves: the record as JSON, reset afterwards when asked (true).
pub type AvailabilitySource = Arc<dyn Fn(bool) -> Value + Send + Sync>;

struct Running {
    accept: JoinHandle<()>,
    /// Dropping it tells every open connection to close.
    _close_connections: watch::Sender<()>,
}

/// The connection's stream; once an injected reset is decided, closing it sends a TCP RST
/// (zero linger) instead of an orderly FIN, as a crashed or overloaded server would.
struct ResettableIo {
    inner: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.inner.get_ref().0.set_zero_linger();
        }
    }
}

impl tokio::io::AsyncRead for ResettableIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ResettableIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.reset.load(Ordering::SeqCst) {
            // No TLS close_notify: the peer must see an abrupt end, not a clean shutdown.
            return std::task::Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()));
        }
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for ResetConnection {}

impl ApiServer {
    /// Binds `addr` (port 0: any free loopback port) and starts serving.
    pub async fn start(
        name: &str,
        addr: SocketAddr,
        store: Arc<Store>,
        token: String,
        faults: Arc<Faults>,
    ) -> std::io::Result<Arc<ApiServer>> {
        let pki = crate::tls::generate(name)?;
        let listener = TcpListener::bind(addr).await?;
        let server = Arc::new(ApiServer {
            name: name.to_string(),
            addr: listener.local_addr()?,
            token,
            ca_pem: pki.ca_pem,
            store,
            faults,
            tls: pki.server_config,
            running: Mutex::new(None),
            logs: OnceLock::new(),
            proxy: OnceLock::new(),
            availability: OnceLock::new(),
            writes: Mutex::new(Vec::new()),
            capturing: AtomicBool::new(false),
            captured: Mutex::new(Vec::new()),
        });
        server.serve(listener);
        Ok(server)
    }

    /// Serves pod logs from `source` (the emulated containers' output); set once.
    pub fn set_log_source(&self, source: LogSource) {
        let _ = self.logs.set(source);
    }

    /// Serves the pods `proxy` subresource through `source` (the emulated pods' HTTP servers); set once.
    pub fn set_proxy_source(&self, source: super::proxy::ProxySource) {
        let _ = self.proxy.set(source);
    }

    /// Serves `/sandbox/availability` from `source`; set once.
    pub fn set_availability_source(&self, source: AvailabilitySource) {
        let _ = self.availability.set(source);
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn serve(self: &Arc<Self>, listener: TcpListener) {
        let (close_tx, close_rx) = watch::channel(());
        let me = self.clone();
        let accept = tokio::spawn(async move {
            let acceptor = TlsAcceptor::from(me.tls.clone());
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let me = me.clone();
                let mut closed = close_rx.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let reset = Arc::new(AtomicBool::new(false));
                    let io = ResettableIo {
                        inner: tls,
                        reset: reset.clone(),
                    };
                    let service = service_fn(move |req| {
                        let me = me.clone();
                        let reset = reset.clone();
                        async move {
                            let answer = me.respond(req).await;
                            if answer.is_err() {
                                reset.store(true, Ordering::SeqCst);
                            }
                            answer
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = closed.changed() => {}
                    }
                });
            }
        });
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(Running {
            accept,
            _close_connections: close_tx,
        });
    }

    /// Stops accepting and drops open connections, without waiting (for `Drop`).
    pub fn shutdown(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = running {
            r.accept.abort();
        }
    }

    /// Takes the API down (connections refused, open ones dropped) or brings it back on the same port.
    pub async fn set_down(self: &Arc<Self>, down: bool) -> std::io::Result<()> {
        self.faults.set_down(down);
        if down {
            let running = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(r) = running {
                r.accept.abort();
                // Once the task is gone its listener is closed: new connections are refused from here on.
                let _ = r.accept.await;
            }
            return Ok(());
        }
        if self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        // The aborted accept task drops its listener asynchronously; retry the bind briefly.
        let mut last = None;
        for _ in 0..100 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    self.serve(l);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
    }

    /// Keeps every write request to a resource whole from now on (`on`), or no more.
    pub fn capture_writes(&self, on: bool) {
        self.capturing.store(on, Ordering::SeqCst);
    }

    /// The write requests kept since the last call, oldest first.
    pub fn take_captured(&self) -> Vec<CapturedRequest> {
        std::mem::take(&mut *self.captured.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The write requests served since the last call (method and path, without the query), oldest first.
    pub fn take_writes(&self) -> Vec<String> {
        std::mem::take(&mut *self.writes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    async fn respond(self: Arc<Self>, req: Request<Incoming>) -> Result<Resp, ResetConnection> {
        let method = req.method();
        let dry_run = req.uri().query().is_some_and(|q| q.contains("dryRun=All"));
        if writes(method) && !dry_run {
            self.writes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{method} {}", req.uri().path()));
        }
        if !request_log_enabled() {
            return self.answer(req).await;
        }
        let started = std::time::Instant::now();
        let line = format!("{} {}", req.method(), req.uri());
        let result = self.answer(req).await;
        let outcome = match &result {
            Ok(r) => r.status().as_u16().to_string(),
            Err(_) => "reset".to_string(),
        };
        eprintln!(
            "kube-sandbox {}: {line} -> {outcome} in {:?}",
            self.name,
            started.elapsed()
        );
        result
    }

    async fn answer(&self, req: Request<Incoming>) -> Result<Resp, ResetConnection> {
        let latency = self.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let authorized = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == self.token);
        if !authorized {
            return Ok(body::error(&ApiError::unauthorized()));
        }
        match self.faults.roll() {
            Some(Fault::Reset) => return Err(ResetConnection),
            Some(Fault::Status(code)) => return Ok(injected_error(code)),
            None => {}
        }
        Ok(self.route(req).await)
    }

    async fn route(&self, req: Request<Incoming>) -> Resp {
        let (parts, incoming) = req.into_parts();
        let accept = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let path = parts.uri.path().to_string();
        let not_found = || {
            body::error(&ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ))
        };
        match route::parse(&path) {
            Route::Version => body::json(200, &discovery::version()),
            Route::Health => {
                let mut r = body::json(200, &json!("ok"));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain"),
                );
                *r.body_mut() = body::ResponseBody::Full(Some(Bytes::from_static(b"ok")));
                r
            }
            Route::CoreVersions => match discovery::wants_aggregated(&accept) {
                Some(v) => aggregated(true, v),
                None => body::json(200, &discovery::core_versions()),
            },
            Route::GroupList => match discovery::wants_aggregated(&accept) {
                Some(v) => aggregated(false, v),
                None => body::json(200, &discovery::group_list()),
            },
            Route::Group(g) => discovery::group(&g).map_or_else(not_found, |d| body::json(200, &d)),
            Route::ResourceList(g, v) => {
                discovery::resource_list(&g, &v).map_or_else(not_found, |d| body::json(200, &d))
            }
            // kubectl 1.20 validates manifests against /openapi/v2 (protobuf) and fails without it;
            // an empty document is a valid one, and kinds missing from it are not validated client-side.
            Route::OpenApi if path == "/openapi/v2" => {
                let mut r = body::json(200, &json!({}));
                *r.body_mut() = body::ResponseBody::Full(Some(Bytes::new()));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                r
            }
            Route::OpenApi | Route::NotFound => not_found(),
            Route::PodProxy(namespace, pod_ref, path) => {
                let Some(source) = self.proxy.get() else {
                    return not_found();
                };
                let (scheme, pod, port) = super::proxy::parse_pod_ref(&pod_ref);
                super::proxy::respond(source(&super::proxy::ProxyTarget {
                    namespace,
                    pod,
                    scheme,
                    port,
                    path,
                    query: parts.uri.query().map(str::to_string),
                }))
            }
            Route::Availability => match self.availability.get() {
                Some(source) => {
                    let query = Query::parse(parts.uri.query());
                    let reset = parts.method == http::Method::POST
                        || parts.method == http::Method::DELETE
                        || query.flag("reset");
                    body::json(200, &source(reset))
                }
                None => not_found(),
            },
            Route::Resource(target) => {
                if let Some(e) = unsupported_encoding(&parts.headers) {
                    return body::error(&e);
                }
                let bytes = match read_body(incoming).await {
                    Ok(b) => b,
                    Err(e) => return body::error(&e),
                };
                if writes(&parts.method) && self.capturing.load(Ordering::SeqCst) {
                    let header = |h| {
                        parts
                            .headers
                            .get(h)
                            .and_then(|v: &HeaderValue| v.to_str().ok())
                    };
                    self.captured
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(CapturedRequest {
                            method: parts.method.clone(),
                            path: path.clone(),
                            query: parts.uri.query().map(str::to_string),
                            content_type: header(http::header::CONTENT_TYPE).map(str::to_string),
                            body: bytes.clone(),
                        });
                }
                handlers::handle(handlers::Request {
                    store: &self.store,
                    method: &parts.method,
                    headers: &parts.headers,
                    query: Query::parse(parts.uri.query()),
                    target,
                    body: bytes,
                    logs: self.logs.get(),
                    warnings: Default::default(),
                })
                .await
            }
        }
    }
}

/// Whether a request of `method` may change what the server stores (a dry run aside).
fn writes(method: &Method) -> bool {
    ![Method::GET, Method::HEAD, Method::OPTIONS].contains(method)
}

/// The sandbox speaks JSON only: a client that accepts nothing else, or sends protobuf, is told so
/// (406/415) instead of getting bytes it cannot decode.
fn unsupported_encoding(headers: &http::HeaderMap) -> Option<ApiError> {
    let get = |h| {
        headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let accept = get(http::header::ACCEPT);
    let json_ok = accept.is_empty()
        || accept.split(',').any(|a| {
            let a = a.trim();
            a.starts_with("application/json")
                || a.starts_with("*/*")
                || a.starts_with("application/*")
        });
    if !json_ok {
        return Some(ApiError::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json (asked for {accept})"),
        ));
    }
    let content_type = get(http::header::CONTENT_TYPE);
    if content_type.contains("protobuf") || content_type.contains("cbor") {
        return Some(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type})"
        )));
    }
    None
}

/// `KUBE_SANDBOX_LOG=1` prints one line per request to stderr (method, path, status, time).
fn request_log_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED
        .get_or_init(|| std::env::var("KUBE_SANDBOX_LOG").is_ok_and(|v| !v.is_empty() && v != "0"))
}

async fn read_body(incoming: Incoming) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(incoming, MAX_BODY);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("request body: {e}"),
        )),
    }
}

fn aggregated(core: bool, version: &str) -> Resp {
    body::json_with_type(
        200,
        &discovery::aggregated(core, version),
        &format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"),
    )
}

fn injected_error(code: u16) -> Resp {
    let (reason, message) = match code {
        429 => (
            "TooManyRequests",
            "Too many requests, please try again later.",
        ),
        503 => (
            "ServiceUnavailable",
            "The server is currently unable to handle the request",
        ),
        _ => ("InternalError", "Internal error occurred: injected fault"),
    };
    let mut status = ApiError::new(code, reason, message).to_status();
    let retry = code == 429 || code == 503;
    if retry {
        status["details"] = json!({"retryAfterSeconds": 1});
    }
    let mut resp = body::json(code, &status);
    if retry {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}
