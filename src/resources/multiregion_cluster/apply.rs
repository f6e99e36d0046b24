//! Create and update of `crdb_multiregion_cluster`: the PKI the plan left unknown is generated. Nothing is
//! contacted.
use super::model::{ClusterModel, CA_VALIDITY, CLIENT_CERT_VALIDITY};
use super::plan::rfc3339;
use crate::cockroach::pki::{self, CertificateAuthority, PkiError};
use crate::framework::diag::Diagnostics;
use crate::framework::{Applied, Attr};
use time::OffsetDateTime;

/// Computes every PKI value the plan left unknown. Nothing planned as known is touched.
fn fill_in_pki(state: &mut ClusterModel) -> Result<(), PkiError> {
    let now = OffsetDateTime::now_utc();
    let name = state.name.known().cloned().unwrap_or_default();
    let ca = match (&state.ca_certificate, &state.ca_private_key) {
        (Attr::Known(cert), Attr::Known(key)) => CertificateAuthority::from_pem(cert, key, now)?,
        _ => {
            let ca = CertificateAuthority::generate(&name, CA_VALIDITY, now)?;
            state.ca_certificate = Attr::Known(ca.cert_pem().to_string());
            state.ca_private_key = Attr::Known(ca.key_pem().to_string());
            state.ca_generated = Attr::Known(true);
            ca
        }
    };
    if !matches!(state.ca_generated, Attr::Known(_)) {
        state.ca_generated = Attr::Known(false);
    }
    if !matches!(state.ca_fingerprint_sha256, Attr::Known(_)) {
        state.ca_fingerprint_sha256 =
            Attr::Known(pki::certificate_fingerprint_sha256(ca.cert_pem())?);
    }
    if !matches!(state.ca_expires_at, Attr::Known(_)) {
        let not_after = pki::certificate_not_after(ca.cert_pem())?;
        state.ca_expires_at = Attr::Known(rfc3339(not_after).ok_or_else(|| {
            PkiError::UnreadableCertificate("its expiry cannot be written as RFC 3339".into())
        })?);
    }
    if !matches!(state.root_client_certificate, Attr::Known(_))
        || !matches!(state.root_client_private_key, Attr::Known(_))
    {
        let client = pki::issue_client_certificate(&ca, "root", CLIENT_CERT_VALIDITY, now)?;
        state.root_client_certificate = Attr::Known(client.cert_pem);
        state.root_client_private_key = Attr::Known(client.key_pem);
    }
    Ok(())
}

/// The planned state with its PKI filled in; on failure nothing exists yet.
pub(super) fn apply(mut state: ClusterModel) -> Applied<ClusterModel> {
    match fill_in_pki(&mut state) {
        Ok(()) => Applied::done(state),
        Err(e) => {
            let mut diags = Diagnostics::new();
            diags.error("Cannot create the cluster PKI", e.to_string());
            Applied::reached(None, diags)
        }
    }
}
