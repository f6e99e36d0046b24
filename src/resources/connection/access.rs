//! Reaching the Kubernetes cluster named by a resource's `kubernetes {}` block, the same way for
//! every resource: known for apply, optional for read.
use super::model::BLOCK_NAME;
use super::resolve::{is_wholly_known, resolve};
use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::{timeouts, Attr, OperationContext, Value};
use crate::kubernetes::{ClusterClient, Deadline};

fn block_path() -> AttributePath {
    AttributePath::root(BLOCK_NAME)
}

/// Checks a configured `kubernetes {}` block on its attributes, a missing one included; an unknown block
/// waits for apply.
pub fn validate(block: &Attr<Value>, diags: &mut Diagnostics) {
    let block = match block {
        Attr::Known(block) => block,
        Attr::Null => &Value::Null,
        Attr::Unknown => return,
    };
    if let Err(d) = resolve(block, &block_path()) {
        diags.extend(d);
    }
}

/// The client an apply or destroy works with; every value of the block is known by then.
/// Terraform's Stop abandons the client's calls in flight, and no call outlasts `deadline`.
pub async fn connect_for_apply(
    ctx: &OperationContext,
    block: &Attr<Value>,
    resource: &str,
    deadline: &Deadline,
) -> Result<ClusterClient, Diagnostics> {
    let at = block_path();
    let value = block.known().cloned().unwrap_or(Value::Null);
    let Some(connection) = resolve(&value, &at)? else {
        let mut diags = Diagnostics::new();
        diags.attribute_error(
            at,
            "Connection not known",
            format!("The kubernetes block must be known when the {resource} is applied."),
        );
        return Err(diags);
    };
    let client = ClusterClient::connect(&connection)
        .await
        .map_err(|e| e.to_diagnostics(&at))?;
    Ok(configured(client, &value, ctx).with_deadline(deadline))
}

/// The client with the block's own grace for an unreachable cluster, abandoning its calls on Terraform's Stop.
fn configured(client: ClusterClient, block: &Value, ctx: &OperationContext) -> ClusterClient {
    let grace = block
        .attr("unreachable_timeout")
        .as_str()
        .and_then(|text| timeouts::parse_duration(text).ok());
    let client = match grace {
        Some(grace) => client.with_unreachable_grace(grace),
        None => client,
    };
    client.with_stop(&ctx.stop)
}

/// The client a read works with, or `None` when there is nothing to read with yet: a state
/// just imported has no connection, and a connection built from unknown values waits for apply.
pub async fn connect_for_read(
    ctx: &OperationContext,
    block: &Attr<Value>,
) -> Result<Option<ClusterClient>, Diagnostics> {
    let Some(value) = block.known().filter(|b| is_wholly_known(b)) else {
        return Ok(None);
    };
    let Ok(Some(connection)) = resolve(value, &block_path()) else {
        return Ok(None);
    };
    let client = ClusterClient::connect(&connection)
        .await
        .map_err(|e| e.to_diagnostics(&block_path()))?;
    Ok(Some(configured(client, value, ctx)))
}
