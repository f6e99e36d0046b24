//! A guarded read-modify-write of a ConfigMap the provider shares with others (kube-dns's
//! `stubDomains`, CoreDNS's Corefile): the edit is applied to what was read and written back with
//! the resourceVersion it was read at, so a concurrent edit by anyone else is never lost; on a
//! conflict the ConfigMap is read and edited again. Every call rides the retry policy and the
//! Stop signal like the other calls of the edge.
use super::apply::describe;
use super::client::ClusterClient;
use super::error::{Call, RemoteError};
use crate::framework::Diagnostics;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;

/// How often a resourceVersion conflict (someone else edited the ConfigMap meanwhile) is retried.
const CONFLICT_RETRIES: usize = 5;

/// Why a ConfigMap could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum EditError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The edit itself refused what it found.
    #[error("cannot merge into {object} on {cluster}: {source}")]
    Edit {
        cluster: String,
        object: String,
        source: E,
    },
    #[error(
        "{object} on {cluster} keeps changing: someone else updated it {CONFLICT_RETRIES} times \
         while the provider merged its entries; apply again."
    )]
    Contended { cluster: String, object: String },
}

impl<E: std::error::Error + 'static> From<EditError<E>> for Diagnostics {
    fn from(error: EditError<E>) -> Self {
        let mut diags = Diagnostics::new();
        match error {
            EditError::Remote(e) => return e.into(),
            EditError::Edit {
                cluster,
                object,
                source,
            } => diags.error(
                format!("Cannot merge into {object} on {cluster}"),
                source.to_string(),
            ),
            EditError::Contended { cluster, object } => diags.error(
                format!("{object} on {cluster} keeps changing"),
                format!(
                    "Someone else updated it {CONFLICT_RETRIES} times while the provider merged its \
                     entries; apply again."
                ),
            ),
        }
        diags
    }
}

impl ClusterClient {
    /// Sets the data of ConfigMap `namespace/name` to what `edit` makes of its current data
    /// (empty when the ConfigMap does not exist; it is then created). Writes nothing when the edit
    /// changes nothing.
    pub async fn edit_config_map<E, F>(
        &self,
        namespace: &str,
        name: &str,
        mut edit: F,
    ) -> Result<(), EditError<E>>
    where
        E: std::error::Error + 'static,
        F: FnMut(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, E>,
    {
        let object = describe::<ConfigMap>(Some(namespace), name);
        let api: Api<ConfigMap> = Api::namespaced(self.kube().clone(), namespace);
        let params = PostParams::default();
        for _ in 0..CONFLICT_RETRIES {
            let live = self.get::<ConfigMap>(Some(namespace), name).await?;
            let data = live
                .as_ref()
                .and_then(|m| m.data.clone())
                .unwrap_or_default();
            let edited = edit(&data).map_err(|source| EditError::Edit {
                cluster: self.label().to_string(),
                object: object.clone(),
                source,
            })?;
            if edited == data && live.is_some() {
                return Ok(());
            }
            // A write whose answer was lost and that is sent again conflicts with itself: the
            // next round reads it back and finds nothing left to do.
            let written = match live {
                Some(mut map) => {
                    map.data = Some(edited);
                    self.call("replace", || api.replace(name, &params, &map))
                        .await
                }
                None => {
                    let mut map = ConfigMap::default();
                    map.metadata.name = Some(name.to_string());
                    map.metadata.namespace = Some(namespace.to_string());
                    map.data = Some(edited);
                    self.call("create", || api.create(&params, &map)).await
                }
            };
            match written {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(source) => return Err(self.remote_error(object, Call::Update, source).into()),
            }
        }
        Err(EditError::Contended {
            cluster: self.label().to_string(),
            object,
        })
    }
}
