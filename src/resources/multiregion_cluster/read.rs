//! Read and import of `crdb_multiregion_cluster`: nothing lives outside Terraform state, so the
//! state is the truth and an import knows only the name.
use super::model::{ClusterModel, DISRUPTION_BUDGETS};
use crate::cockroach::validate;
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::resources::certificates;

/// The state as it is, with what a state written before an attribute existed lacks filled in: the root client
/// certificate's expiry, and `disruption_budget` as the default it behaved as (so the first plan after a provider
/// upgrade stays empty).
pub(super) fn read(mut state: ClusterModel) -> ClusterModel {
    if state.root_client_certificate_expires_at.is_null() {
        if let Attr::Known(cert) = &state.root_client_certificate {
            state.root_client_certificate_expires_at = certificates::expires_at(cert).into();
        }
    }
    if state.disruption_budget.is_null() {
        state.disruption_budget = Attr::Known(DISRUPTION_BUDGETS[0].to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_from_before_the_disruption_budget_reads_as_the_default_and_a_set_one_is_kept() {
        let older = ClusterModel {
            name: Attr::Known("main".into()),
            ..Default::default()
        };
        assert_eq!(read(older).disruption_budget, Attr::Known("node".into()));
        let zone = ClusterModel {
            disruption_budget: Attr::Known("zone".into()),
            ..Default::default()
        };
        assert_eq!(read(zone).disruption_budget, Attr::Known("zone".into()));
    }
}
