//! When the plugin process stops, apart from the host's `Shutdown` call.
//!
//! - SIGINT is ignored: on Ctrl-C the terminal signals Terraform's whole process group, and
//!   Terraform then cancels in-flight work through the provider's `Stop` RPC. Dying on the
//!   signal would turn a clean cancellation into "plugin exited unexpectedly".
//! - SIGTERM stops serving gracefully.
//! - If the host dies without saying goodbye (SIGKILL, crash), we are re-parented. We poll the
//!   parent pid rather than waiting for EOF on stdin because go-plugin hands the plugin the
//!   host's own stdin (often a terminal, or /dev/null), so stdin says nothing about the host.
use std::io;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// How often to check that the host is still our parent; a getppid call is nearly free, and
/// one second is quick enough for an orphan to notice.
const PARENT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Installs the signal handlers and the orphan check; each cancels `shutdown` when it fires and
/// all of them end once `shutdown` is cancelled.
///
/// Call this before printing the handshake line: from then on the host may signal us.
pub fn watch(shutdown: &CancellationToken) -> io::Result<()> {
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut terminations = signal(SignalKind::terminate())?;

    let token = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                Some(()) = interrupts.recv() => {
                    tracing::debug!("ignoring SIGINT: the host cancels work through the Stop RPC");
                }
            }
        }
    });

    let token = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = token.cancelled() => {}
            Some(()) = terminations.recv() => {
                tracing::info!("SIGTERM received, shutting down");
                token.cancel();
            }
        }
    });

    let token = shutdown.clone();
    let host = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PARENT_POLL_INTERVAL);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = ticks.tick() => {
                    if parent_is_gone(host, std::os::unix::process::parent_id()) {
                        tracing::warn!(host_pid = host, "the host process went away, shutting down");
                        token.cancel();
                        break;
                    }
                }
            }
        }
    });
    Ok(())
}

/// A changed parent pid means the host exited and we were adopted by init or a subreaper.
fn parent_is_gone(host: u32, current: u32) -> bool {
    host != current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reparenting_means_the_host_is_gone() {
        assert!(!parent_is_gone(4242, 4242));
        assert!(parent_is_gone(4242, 1));
    }
}
