//! What a read finds of the user: whether it exists and its direct role memberships.
use super::model::SqlUserModel;
use crate::cockroach::sql::SqlSnapshot;
use crate::framework::Attr;

/// The state as the cluster has it; None when the user is gone (Terraform then plans to create it again).
pub(super) fn fold(mut state: SqlUserModel, live: &SqlSnapshot) -> Option<SqlUserModel> {
    let name = state.user();
    if !live.users.contains(&name) {
        return None;
    }
    state.id = Attr::Known(name.clone());
    state.roles = Attr::from_items(live.roles_of(&name));
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(users: &[&str], grants: &[(&str, &str)]) -> SqlSnapshot {
        let mut s = SqlSnapshot {
            users: users.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        };
        for (role, member) in grants {
            s.memberships
                .entry(member.to_string())
                .or_default()
                .insert(role.to_string());
        }
        s
    }

    #[test]
    fn a_user_removed_by_hand_is_gone_and_a_revoked_role_is_drift() {
        let state = SqlUserModel {
            name: Attr::Known("app".into()),
            roles: Attr::from_items(["admin".to_string()]),
            ..Default::default()
        };
        assert_eq!(fold(state.clone(), &snapshot(&["root"], &[])), None);
        let read = fold(state.clone(), &snapshot(&["app"], &[])).unwrap();
        assert_eq!(read.roles, Attr::from_items([]));
        let read = fold(
            state,
            &snapshot(&["app"], &[("admin", "app"), ("ops", "app")]),
        )
        .unwrap();
        assert_eq!(
            read.roles.known_items(),
            Some(vec!["admin".into(), "ops".into()])
        );
    }
}
