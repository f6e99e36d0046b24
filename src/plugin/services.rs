//! The go-plugin services a host dials beside the provider itself.
use std::pin::Pin;

use futures_util::{Stream, StreamExt as _};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::plugin::{
    grpc_broker_server::GrpcBroker, grpc_controller_server::GrpcController,
    grpc_stdio_server::GrpcStdio, ConnInfo, Empty, StdioData,
};

/// A response stream that sends nothing and ends when the plugin shuts down, so graceful
/// shutdown is never held up by a host that keeps its streams open.
type SilentUntilShutdown<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn silent_until<T: Send + 'static>(shutdown: &CancellationToken) -> SilentUntilShutdown<T> {
    Box::pin(
        futures_util::stream::once(shutdown.clone().cancelled_owned())
            .filter_map(|()| std::future::ready(None)),
    )
}

/// `plugin.GRPCController`: the host's request to exit.
pub struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("host asked the plugin to shut down");
        // The reply still goes out: tonic drains in-flight calls before the server stops.
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: go-plugin mirrors a plugin's stdout/stderr over this stream. Logs go to
/// stderr directly and stdout carries only the handshake, so there is never anything to send.
pub struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = SilentUntilShutdown<StdioData>;

    async fn stream_stdio(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(silent_until(&self.shutdown)))
    }
}

/// `plugin.GRPCBroker`: lets either side offer extra connections. A provider has none to offer
/// and accepts none, but the host opens the stream anyway and must not see it fail.
pub struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = SilentUntilShutdown<ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut offers = request.into_inner();
        let shutdown = self.shutdown.clone();
        // Keep reading so HTTP/2 flow control never blocks the host's side of the stream.
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    offer = offers.next() => match offer {
                        Some(Ok(offer)) => tracing::debug!(
                            service_id = offer.service_id,
                            "ignoring a broker connection offer"
                        ),
                        Some(Err(_)) | None => break,
                    },
                }
            }
        });
        Ok(Response::new(silent_until(&self.shutdown)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn controller_replies_and_requests_shutdown() {
        let shutdown = CancellationToken::new();
        let controller = Controller {
            shutdown: shutdown.clone(),
        };
        controller.shutdown(Request::new(Empty {})).await.unwrap();
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn stdio_stays_silent_then_ends_at_shutdown() {
        let shutdown = CancellationToken::new();
        let stdio = Stdio {
            shutdown: shutdown.clone(),
        };
        let mut stream = stdio
            .stream_stdio(Request::new(Empty {}))
            .await
            .unwrap()
            .into_inner();
        let early = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(early.is_err(), "the stream must stay open and silent");
        shutdown.cancel();
        let end = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        assert!(matches!(end, Ok(None)), "the stream must end at shutdown");
    }
}
