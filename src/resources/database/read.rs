//! What a read finds of the database: whether it exists, its regions and its survival goal.
use super::model::{DatabaseModel, SURVIVAL_ZONE};
use crate::cockroach::sql::SqlSnapshot;
use crate::framework::Attr;

/// The state as the cluster has it; None when the database is gone.
pub(super) fn fold(mut state: DatabaseModel, live: &SqlSnapshot) -> Option<DatabaseModel> {
    let name = state.database();
    let row = live.databases.get(&name)?;
    state.id = Attr::Known(name);
    state.primary_region = row.primary_region.clone().map_or(Attr::Null, Attr::Known);
    let mut regions = row.regions.clone();
    regions.sort();
    state.regions = Attr::from_items(regions);
    state.survival_goal = Attr::Known(
        row.survival_goal
            .clone()
            .unwrap_or_else(|| SURVIVAL_ZONE.to_string()),
    );
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cockroach::sql::DatabaseRow;

    #[test]
    fn regions_and_goal_changed_by_hand_show_and_a_dropped_database_is_gone() {
        let state = DatabaseModel {
            name: Attr::Known("shop".into()),
            primary_region: Attr::Known("a".into()),
            regions: Attr::from_items(["a", "b", "c"].map(String::from)),
            survival_goal: Attr::Known("region".into()),
            ..Default::default()
        };
        let mut live = SqlSnapshot::default();
        assert_eq!(fold(state.clone(), &live), None);
        live.databases.insert(
            "shop".into(),
            DatabaseRow {
                primary_region: Some("b".into()),
                regions: vec!["b".into(), "a".into()],
                survival_goal: Some("zone".into()),
            },
        );
        let read = fold(state.clone(), &live).unwrap();
        assert_eq!(read.primary_region, Attr::Known("b".into()));
        assert_eq!(read.regions, Attr::from_items(["a", "b"].map(String::from)));
        assert_eq!(read.survival_goal, Attr::Known("zone".into()));
        live.databases.insert("shop".into(), DatabaseRow::default());
        let plain = fold(state, &live).unwrap();
        assert_eq!(plain.primary_region, Attr::Null);
        assert_eq!(plain.survival_goal, Attr::Known("zone".into()));
    }
}
