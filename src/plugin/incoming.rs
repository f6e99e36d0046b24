//! The stream of ready connections tonic serves: accepted from the listener and, under AutoMTLS,
//! through a completed TLS handshake.
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::listener::{Io, Listener};

/// A slow or stuck TLS peer must not hold a task forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection from the host, plaintext or TLS, over unix or TCP.
pub struct Connection(Box<dyn Io>);

impl tonic::transport::server::Connected for Connection {
    // The peer is always the host that launched us; there is nothing useful to attach.
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// Accepts connections until `shutdown`, handing tonic only those that finished the TLS
/// handshake (when `tls` is set). Handshakes run concurrently so one bad peer cannot stall the
/// host's own connection; failures are logged and dropped rather than ending the server.
pub fn incoming(
    listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> ReceiverStream<io::Result<Connection>> {
    let (ready, stream) = mpsc::channel(4);
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let raw = match accepted {
                Ok(raw) => raw,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    // Avoid a hot loop on persistent errors such as running out of descriptors.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(acceptor) = acceptor.clone() else {
                if ready.send(Ok(Connection(raw))).await.is_err() {
                    break;
                }
                continue;
            };
            let ready = ready.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(raw));
                let outcome = tokio::select! {
                    () = shutdown.cancelled() => return,
                    outcome = handshake => outcome,
                };
                match outcome {
                    Ok(Ok(tls)) => {
                        let _ = ready.send(Ok(Connection(Box::new(tls)))).await;
                    }
                    // grpc-go redials when the server goes away; such a client hangs up mid
                    // handshake as it closes. Nothing to warn anyone about.
                    Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                        tracing::debug!(%error, "a client hung up during the TLS handshake");
                    }
                    Ok(Err(error)) => tracing::warn!(%error, "TLS handshake with a client failed"),
                    Err(_) => tracing::warn!("TLS handshake with a client timed out"),
                }
            });
        }
        // Dropping the listener here removes the unix socket as soon as we stop accepting.
        drop(listener);
    });
    ReceiverStream::new(stream)
}
