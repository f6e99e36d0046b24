//! The contract of an ephemeral resource (protocol 5.7: Terraform 1.10, OpenTofu 1.11): a value
//! opened for one run of the client, renewed while the run needs it and closed at its end, never
//! stored in plan or state (`crdb_client_certificate`); the protocol layer dispatches to those the
//! registry is given.
use super::diag::Diagnostics;
use super::resource::OperationContext;
use super::schema::Schema;
use super::value::Value;
use std::time::SystemTime;

/// What opening gives the client, and what the provider needs to renew and close it.
#[derive(Debug, Default)]
pub struct Opened {
    pub result: Value,
    /// Opaque to the client, handed back to `renew` and `close` as `OperationContext::private`.
    pub private: Vec<u8>,
    /// When the client must call `renew`, if the value expires before the run ends.
    pub renew_at: Option<SystemTime>,
}

/// What renewing gives back: the private bytes for the next call, and when to renew again.
#[derive(Debug, Default)]
pub struct Renewed {
    pub private: Vec<u8>,
    pub renew_at: Option<SystemTime>,
}

#[async_trait::async_trait]
pub trait EphemeralResource: Send + Sync {
    /// The ephemeral resource type, e.g. `crdb_sql_session`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks a configuration that may still contain unknown values; touches nothing remote.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    async fn open(&self, ctx: &OperationContext, config: &Value) -> Result<Opened, Diagnostics>;

    /// Extends what `open` made; by default there is nothing to extend.
    async fn renew(&self, ctx: &OperationContext) -> Result<Renewed, Diagnostics> {
        Ok(Renewed {
            private: ctx.private.clone(),
            renew_at: None,
        })
    }

    /// Releases what `open` made; by default there is nothing to release.
    async fn close(&self, _ctx: &OperationContext) -> Diagnostics {
        Diagnostics::new()
    }
}
