//! Create and update of `crdb_multiregion_cluster`: the PKI the plan left unknown is generated. Nothing is
//! contacted.
use super::model::ClusterModel;
use crate::cockroach::pki::{self, CertificateAuthority, PkiError};
use crate::framework::diag::Diagnostics;
use crate::framework::{Applied, Attr};
use crate::resources::certificates::{self, Lifetimes};
use time::OffsetDateTime;

/// Computes every PKI value the plan left unknown. Nothing planned as known is touched.
fn fill_in_pki(state: &mut ClusterModel) -> Result<(), PkiError> {
    let now = OffsetDateTime::now_utc();
    let lifetimes = Lifetimes::of(
        &state.certificate_validity,
        &state.certificate_renewal,
        &state.ca_validity,
    );
    let name = state.name.known().cloned().unwrap_or_default();
    let ca = match (&state.ca_certificate, &state.ca_private_key) {
        (Attr::Known(cert), Attr::Known(key)) => {
            Some(CertificateAuthority::from_pem(cert, key, now)?)
        }
        // A brought CA whose key stays out of the state (`ca_private_key_wo`): the cluster only describes its
        // certificate; the regions sign, and issue the `root` client, during the applies given the key.
        (Attr::Known(_), Attr::Null) => None,
        _ => {
            let ca = CertificateAuthority::generate(&name, lifetimes.ca_validity, now)?;
            state.ca_certificate = Attr::Known(ca.cert_pem().to_string());
            state.ca_private_key = Attr::Known(ca.key_pem().to_string());
            state.ca_generated = Attr::Known(true);
            Some(ca)
        }
    };
    let ca_pem = state.ca_certificate.known().cloned().unwrap_or_default();
    if state.previous_ca_certificate.is_unknown() {
        state.previous_ca_certificate = Attr::Null;
    }
    if !matches!(state.ca_generated, Attr::Known(_)) {
        state.ca_generated = Attr::Known(false);
    }
    if !matches!(state.ca_fingerprint_sha256, Attr::Known(_)) {
        state.ca_fingerprint_sha256 = Attr::Known(pki::certificate_fingerprint_sha256(&ca_pem)?);
    }
    if !matches!(state.ca_expires_at, Attr::Known(_)) {
        state.ca_expires_at = Attr::Known(expiry(&ca_pem)?);
    }
    // Without the key the plan left the `root` client null (`plan::plan_key_out_of_state`).
    let Some(ca) = ca else {
        return Ok(());
    };
    if !matches!(state.root_client_certificate, Attr::Known(_))
        || !matches!(state.root_client_private_key, Attr::Known(_))
    {
        let client =
            pki::issue_client_certificate(&ca, "root", lifetimes.certificate_validity, now)?;
        state.root_client_certificate = Attr::Known(client.cert_pem);
        state.root_client_private_key = Attr::Known(client.key_pem);
    }
    if let Attr::Known(cert) = &state.root_client_certificate {
        state.root_client_certificate_expires_at = Attr::Known(expiry(cert)?);
    }
    Ok(())
}

fn expiry(cert_pem: &str) -> Result<String, PkiError> {
    let not_after = pki::certificate_not_after(cert_pem)?;
    certificates::rfc3339(not_after).ok_or_else(|| {
        PkiError::UnreadableCertificate("its expiry cannot be written as RFC 3339".into())
    })
}

/// The planned state with its PKI filled in; on failure nothing exists yet.
pub(super) fn apply(mut state: ClusterModel) -> Applied<ClusterModel> {
    match fill_in_pki(&mut state) {
        Ok(()) => Applied::done(state),
        Err(e) => {
            let diags = Diagnostics::with_error("Cannot create the cluster PKI", e.to_string());
            Applied::nothing_made(None, diags)
        }
    }
}
