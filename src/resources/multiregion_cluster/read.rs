//! Read and import of `crdb_multiregion_cluster`: nothing lives outside Terraform state, so the
//! state is the truth and an import knows only the name.
use super::model::ClusterModel;
use crate::cockroach::validate;
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::resources::certificates;

/// The state as it is, with the root client certificate's expiry filled in for a state written before the
/// attribute existed.
pub(super) fn read(mut state: ClusterModel) -> ClusterModel {
    if state.root_client_certificate_expires_at.is_null() {
        if let Attr::Known(cert) = &state.root_client_certificate {
            state.root_client_certificate_expires_at = certificates::expires_at(cert).into();
        }
    }
    state
}

/// The state an import by name adopts; the next apply generates or takes the rest.
pub(super) fn imported(id: &str) -> Result<ClusterModel, Diagnostics> {
    if let Err(why) = validate::dns1123_label(id) {
        return Err(Diagnostics::with_error(
            "Invalid import ID",
            format!("Import a crdb_multiregion_cluster by its name: {why}."),
        ));
    }
    Ok(ClusterModel {
        id: Attr::Known(id.to_string()),
        name: Attr::Known(id.to_string()),
        ..Default::default()
    })
}
