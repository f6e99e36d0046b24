//! `crdb_client_certificate`: an ephemeral resource (protocol 5.7) issuing a short-lived client certificate for a
//! SQL user, signed by the cluster's CA with the code that issues the root client certificate. Nothing remote is
//! contacted, nothing is kept: there is nothing to renew (the certificate lasts its `ttl`) or to release on close
//! (CockroachDB keeps no record of the certificates its CA signs).
mod model;
mod plan;

pub use model::{ClientCertificateModel, TYPE_NAME};

use crate::framework::diag::Diagnostics;
use crate::framework::ephemeral::Opened;
use crate::framework::model::ToValue;
use crate::framework::resource::decode;
use crate::framework::{EphemeralResource, OperationContext, Schema, Value};

pub struct ClientCertificate;

#[async_trait::async_trait]
impl EphemeralResource for ClientCertificate {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        model::schema()
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        match decode::<ClientCertificateModel>(config, TYPE_NAME) {
            Ok(config) => plan::validate(&config, diags),
            Err(d) => diags.extend(d),
        }
    }

    async fn open(&self, _: &OperationContext, config: &Value) -> Result<Opened, Diagnostics> {
        let config = decode::<ClientCertificateModel>(config, TYPE_NAME)?;
        let issued = plan::issue(&config, time::OffsetDateTime::now_utc())?;
        Ok(Opened {
            result: issued.to_value(),
            ..Default::default()
        })
    }
}
