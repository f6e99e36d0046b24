//! Import IDs of the resources that live in one Kubernetes cluster. `<zone>` imports what the ID alone says; the
//! first apply then reads the rest through the configured connection. `<kubeconfig context>/<zone>` also reads what
//! runs through that context of the local kubeconfig (`KUBE_CONFIG_PATH`, else `KUBECONFIG`, else
//! `~/.kube/config`), so that the plan after import shows only what import cannot know: the connection and the
//! cluster the resource is wired to.
use crate::cockroach::validate;
use crate::framework::diag::Diagnostics;
use crate::framework::OperationContext;
use crate::kubernetes::connection::{default_kubeconfig_path, Connection};
use crate::kubernetes::ClusterClient;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportId {
    pub context: Option<String>,
    pub zone: String,
}

/// Contexts may contain `/` (EKS context names are ARNs), zones never do: the zone follows the last one.
pub fn parse(id: &str, resource: &str) -> Result<ImportId, Diagnostics> {
    let (context, zone) = match id.rsplit_once('/') {
        Some((context, zone)) => (Some(context.to_string()), zone),
        None => (None, id),
    };
    let invalid = |why: validate::Invalid| {
        Diagnostics::with_error(
            "Invalid import ID",
            format!("Import a {resource} as `<zone>` or `<kubeconfig context>/<zone>`: {why}."),
        )
    };
    if context.as_deref() == Some("") {
        return Err(invalid(validate::Invalid(
            "the context before `/` is empty".into(),
        )));
    }
    validate::zone_name(zone).map_err(invalid)?;
    Ok(ImportId {
        context,
        zone: zone.to_string(),
    })
}

/// A client for the ID's kubeconfig context.
pub async fn connect(ctx: &OperationContext, context: &str) -> Result<ClusterClient, Diagnostics> {
    let Some(path) = default_kubeconfig_path() else {
        return Err(Diagnostics::with_error(
            "No kubeconfig to import through",
            format!(
                "The import ID names the kubeconfig context {context:?}, but neither KUBE_CONFIG_PATH, KUBECONFIG \
                 nor HOME is set. Set one of them, or import by zone alone."
            ),
        ));
    };
    let client = connect_through(path, context).await?;
    Ok(client.with_stop(&ctx.stop))
}

/// A client for `context` of the kubeconfig file at `path`. An import ID has no line in the configuration, so
/// a failure is a diagnostic on no attribute.
async fn connect_through(
    path: std::path::PathBuf,
    context: &str,
) -> Result<ClusterClient, Diagnostics> {
    let connection = Connection::KubeconfigFile {
        path,
        context: Some(context.to_string()),
    };
    ClusterClient::connect(&connection).await.map_err(|e| {
        Diagnostics::with_error(
            "Cannot connect to Kubernetes",
            format!("The import ID names the kubeconfig context {context:?}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_follows_the_last_slash() {
        assert_eq!(
            parse("us-east1-b", "crdb_region").unwrap(),
            ImportId {
                context: None,
                zone: "us-east1-b".into()
            }
        );
        assert_eq!(
            parse(
                "arn:aws:eks:us-east-1:123456789012:cluster/prod/us-east-1a",
                "crdb_region"
            )
            .unwrap(),
            ImportId {
                context: Some("arn:aws:eks:us-east-1:123456789012:cluster/prod".into()),
                zone: "us-east-1a".into()
            }
        );
    }

    #[tokio::test]
    async fn a_context_the_kubeconfig_lacks_is_an_error_on_no_attribute() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
             contexts:\n- name: here\n  context:\n    cluster: c\n    user: u\ncurrent-context: here\n\
             users:\n- name: u\n  user:\n    token: t\n",
        )
        .unwrap();
        let id = parse("a/b/us-east1-b", "crdb_region").unwrap();
        let Err(diags) = connect_through(path, id.context.as_deref().unwrap()).await else {
            panic!("context \"a/b\" is not in the file");
        };
        assert_eq!(diags.0.len(), 1);
        assert_eq!(diags.0[0].path, None, "{diags:?}");
        assert!(diags.0[0].detail.contains("\"a/b\""), "{diags:?}");
    }

    #[test]
    fn bad_ids_say_which_forms_are_accepted() {
        for id in ["/us-east1-b", "ctx/", "ctx/Not_A_Zone", ""] {
            let diags = parse(id, "crdb_dns_link").unwrap_err();
            assert!(
                diags.0[0].detail.contains("`<kubeconfig context>/<zone>`"),
                "{id}: {diags:?}"
            );
        }
    }
}
