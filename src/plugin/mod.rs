//! The go-plugin layer: turns a `tfplugin5.Provider` implementation into a process Terraform and
//! OpenTofu can launch, handshake with, talk to over (mutual) TLS, and stop.
pub mod handshake;
pub mod incoming;
pub mod lifecycle;
pub mod listener;
pub mod services;
pub mod tls;

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::proto::plugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use crate::proto::tfplugin5::provider_server::{Provider, ProviderServer};
use handshake::HandshakeError;
use listener::{ListenConfig, Listener};
use tls::{AutoMtls, TlsSetupError};

/// Terraform sends whole configurations and states and accepts schemas up to 64 MiB; tonic's
/// 4 MiB default would fail large deployments with "message too large".
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// After shutdown is requested, how long open calls may take to finish. Our own streams end at
/// once; this only bounds calls we cannot end (a health Watch, a stuck handler). The host kills
/// the plugin 2 s after `Shutdown`, and a clean exit must come well before that.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// The health service name go-plugin hosts probe.
const HEALTH_SERVICE: &str = "plugin";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Not launched by a compatible host; the message is meant for a human.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("cannot start the plugin server: {0}")]
    Setup(io::Error),
    #[error("the plugin server failed: {0}")]
    Transport(tonic::transport::Error),
}

/// Serves `provider` to the host described by this process's environment until the host asks
/// us to shut down, goes away, or sends SIGTERM.
pub async fn serve<P: Provider>(provider: P) -> Result<(), ServeError> {
    serve_with_env(provider, |key| std::env::var(key).ok()).await
}

/// [`serve`] with the environment supplied by the caller.
pub async fn serve_with_env<P: Provider>(
    provider: P,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), ServeError> {
    handshake::check_magic_cookie(env(handshake::MAGIC_COOKIE_KEY).as_deref())?;
    let protocol =
        handshake::negotiate_protocol_version(env(handshake::PROTOCOL_VERSIONS_KEY).as_deref())?;

    let shutdown = CancellationToken::new();
    lifecycle::watch(&shutdown).map_err(ServeError::Setup)?;

    let mtls = env(tls::CLIENT_CERT_KEY)
        .filter(|pem| !pem.trim().is_empty())
        .map(|pem| AutoMtls::new(&pem))
        .transpose()?;
    let listener = Listener::bind(&ListenConfig::from_env(&env)).map_err(ServeError::Setup)?;
    let line = handshake::handshake_line(
        protocol,
        listener.address(),
        mtls.as_ref().map(|mtls| mtls.server_cert_der.as_ref()),
    );
    let address = listener.address().to_string();

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status(HEALTH_SERVICE, ServingStatus::Serving)
        .await;
    let provider = ProviderServer::new(provider)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let router = Server::builder()
        .trace_fn(|request| rpc_span(request.uri().path()))
        .add_service(provider)
        .add_service(health)
        .add_service(GrpcControllerServer::new(services::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(services::Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcBrokerServer::new(services::Broker {
            shutdown: shutdown.clone(),
        }));

    let tls_config = mtls.map(|mtls| mtls.config);
    let tls_enabled = tls_config.is_some();
    let connections = incoming::incoming(listener, tls_config, shutdown.clone());
    announce(&line).map_err(ServeError::Setup)?;
    tracing::info!(%address, mtls = tls_enabled, protocol, "serving the provider");

    let serving =
        router.serve_with_incoming_shutdown(connections, shutdown.clone().cancelled_owned());
    let drain_expired = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN_LIMIT).await;
    };
    tokio::select! {
        served = serving => served.map_err(ServeError::Transport)?,
        () = drain_expired => tracing::warn!("connections still open after shutdown; exiting anyway"),
    }
    tracing::debug!("plugin server stopped");
    Ok(())
}

/// The span every gRPC call runs in, so each log line from a handler names its RPC and request,
/// like terraform-plugin-go's `tf_rpc` and `tf_req_id` fields.
///
/// A span's level only decides whether it is recorded; ERROR keeps the RPC on every line that
/// is logged at all, warnings included.
fn rpc_span(path: &str) -> tracing::Span {
    static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);
    let request_id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    let rpc = path.rsplit('/').next().unwrap_or(path);
    let span = tracing::error_span!("rpc", tf_rpc = rpc, tf_req_id = request_id);
    span.in_scope(|| tracing::trace!(path, "received a call"));
    span
}

/// Prints the handshake line: the only bytes this process ever writes to stdout.
fn announce(line: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(line.as_bytes())?;
    stdout.write_all(b"\n")?;
    stdout.flush()
}
