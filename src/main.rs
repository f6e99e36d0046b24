//! The provider binary: started by Terraform or OpenTofu, never by hand.
use std::process::ExitCode;
use std::time::Duration;

use terraform_provider_crdb::plugin::{self, ServeError};
use terraform_provider_crdb::{logging, protocol::ProviderService};

/// Work still running once the server has stopped (a cancelled apply, say) gets this long to
/// notice before the process exits regardless: the host is waiting for us to be gone.
const RUNTIME_SHUTDOWN_LIMIT: Duration = Duration::from_millis(200);

/// The stack of each runtime worker. A region's apply is one deep chain of futures (rotation, rollout, gates,
/// each Kubernetes call with its retries); unoptimised builds keep every level's locals unmerged and outgrew
/// tokio's 2 MiB default during a CA rotation. The memory is reserved, not used, until a thread needs it.
const WORKER_STACK: usize = 16 * 1024 * 1024;

fn main() -> ExitCode {
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(plugin::serve(ProviderService::new()));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_LIMIT);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::Handshake(error)) => {
            // Meant for a person at a terminal, so plain text rather than a JSON log line.
            eprintln!("{error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            tracing::error!(%error, "the provider stopped with an error");
            ExitCode::FAILURE
        }
    }
}
