//! Writing and reading typed objects: server-side apply as the provider's field manager, get
//! that treats "not found" as an answer, delete that says whether there was anything to delete,
//! and list. Every call is retried per the client's policy and fails as a [`RemoteError`].
use super::client::ClusterClient;
use super::error::{Call, RemoteError, Stopped};
use super::retry::{cut_short, CallLimit};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// The field manager of everything the provider writes. Apply is forced: the provider owns the
/// fields it sets, and a `kubectl edit` of one of them is drift that the next apply undoes.
pub const FIELD_MANAGER: &str = "terraform-provider-crdb";

/// The endpoint for objects of one scope: a namespace's, or the cluster's.
pub trait ApiScope: Sized {
    fn api<K>(client: kube::Client, namespace: Option<&str>) -> Option<Api<K>>
    where
        K: Resource<Scope = Self, DynamicType = ()>;
}

impl ApiScope for NamespaceResourceScope {
    fn api<K>(client: kube::Client, namespace: Option<&str>) -> Option<Api<K>>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        namespace.map(|namespace| Api::namespaced(client, namespace))
    }
}

impl ApiScope for ClusterResourceScope {
    fn api<K>(client: kube::Client, _namespace: Option<&str>) -> Option<Api<K>>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        Some(Api::all(client))
    }
}

/// A typed Kubernetes object the helpers can read and write, namespaced or cluster-scoped.
pub trait KubeObject:
    Resource<DynamicType = (), Scope: ApiScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> KubeObject for K where
    K: Resource<DynamicType = (), Scope: ApiScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// How a delete treats the objects the deleted one owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// The object stays (with a deletion timestamp) until its dependents are gone: a later wait
    /// for its disappearance covers them too.
    Foreground,
    /// The object goes now; the garbage collector removes dependents afterwards.
    Background,
    /// The object goes; its dependents stay, without an owner (a StatefulSet's pods keep
    /// running, to be adopted by the next StatefulSet whose selector matches them).
    Orphan,
}

/// How errors name an object: `StatefulSet us-east1-b/cockroachdb`, or `Namespace us-east1-b`.
pub fn describe<K: Resource<DynamicType = ()>>(namespace: Option<&str>, name: &str) -> String {
    let kind = K::kind(&());
    match namespace {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn usage_error(message: String) -> kube::Error {
    kube::Error::Service(message.into())
}

impl ClusterClient {
    /// Runs an idempotent call with the client's retries, within the unreachable grace and the
    /// operation's deadline, unless Terraform asks the provider to stop first: then at once,
    /// whatever retry was under way.
    pub async fn call<T, F, Fut>(&self, what: &str, call: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        tokio::select! {
            biased;
            _ = self.stop_token().cancelled() => Err(kube::Error::Service(Box::new(Stopped))),
            result = self.retry_policy().run_within(what, self.time_left(), call) => result,
        }
    }

    /// Runs a call once, not retried, bounded and stopped like [`ClusterClient::call`].
    pub async fn call_once<T, Fut>(&self, call: Fut) -> Result<T, kube::Error>
    where
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let limit = CallLimit::new(self.retry_policy().unreachable_grace, self.time_left());
        tokio::select! {
            biased;
            _ = self.stop_token().cancelled() => Err(kube::Error::Service(Box::new(Stopped))),
            result = tokio::time::timeout(limit.length, call) => {
                result.unwrap_or_else(|_| Err(cut_short(&limit)))
            }
        }
    }

    pub(super) fn remote_error(
        &self,
        object: String,
        call: Call,
        source: kube::Error,
    ) -> RemoteError {
        RemoteError {
            cluster: self.label().to_string(),
            object,
            call,
            source,
        }
    }

    pub(super) fn api<K: KubeObject>(
        &self,
        namespace: Option<&str>,
        name: &str,
        call: Call,
    ) -> Result<Api<K>, RemoteError> {
        K::Scope::api(self.kube().clone(), namespace).ok_or_else(|| {
            self.remote_error(
                describe::<K>(namespace, name),
                call,
                usage_error(format!(
                    "{} is namespaced: a namespace is needed",
                    K::kind(&())
                )),
            )
        })
    }

    /// Creates or updates `object` to match what it sets, and returns the object as stored.
    /// Applying the same object again changes nothing (its resourceVersion stays).
    pub async fn apply<K: KubeObject>(&self, object: &K) -> Result<K, RemoteError> {
        let namespace = object.meta().namespace.as_deref();
        let name = object.meta().name.clone().unwrap_or_default();
        let what = describe::<K>(namespace, &name);
        if name.is_empty() {
            let error = usage_error("the object has no metadata.name".into());
            return Err(self.remote_error(what, Call::Apply, error));
        }
        let api = self.api::<K>(namespace, &name, Call::Apply)?;
        let intent = intent_of(object);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(&intent);
        self.call("apply", || api.patch(&name, &params, &patch))
            .await
            .map_err(|source| self.remote_error(what, Call::Apply, source))
    }

    /// What `object` would be once applied, as the API server works it out (defaults, admission, its
    /// `metadata.generation`), with nothing written: a dry run of [`ClusterClient::apply`].
    pub async fn apply_dry_run<K: KubeObject>(&self, object: &K) -> Result<K, RemoteError> {
        let namespace = object.meta().namespace.as_deref();
        let name = object.meta().name.clone().unwrap_or_default();
        let what = describe::<K>(namespace, &name);
        let api = self.api::<K>(namespace, &name, Call::Apply)?;
        let intent = intent_of(object);
        let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
        let patch = Patch::Apply(&intent);
        self.call("apply (dry run)", || api.patch(&name, &params, &patch))
            .await
            .map_err(|source| self.remote_error(what, Call::Apply, source))
    }

    /// Sets the fields `patch` names (a JSON merge patch, as `kubectl patch --type merge`) on an
    /// existing object, and returns it as stored. For fields the provider does not own: a
    /// merge patch takes no ownership from the object's field managers. Sending it again changes
    /// nothing, so it is retried like the other calls.
    pub async fn merge_patch<K: KubeObject>(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<K, RemoteError> {
        let api = self.api::<K>(namespace, name, Call::Patch)?;
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(patch);
        self.call("patch", || api.patch(name, &params, &patch))
            .await
            .map_err(|source| {
                self.remote_error(describe::<K>(namespace, name), Call::Patch, source)
            })
    }

    /// `kubectl rollout restart` of a Deployment: a new `restartedAt` annotation on its pod
    /// template makes the controller replace its pods, one by one as its strategy says.
    pub async fn rollout_restart(&self, namespace: &str, name: &str) -> Result<(), RemoteError> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": now
        }}}}});
        self.merge_patch::<k8s_openapi::api::apps::v1::Deployment>(Some(namespace), name, &patch)
            .await
            .map(drop)
    }

    /// Creates `object` as `field_manager` (not the provider's own manager: for an object to be
    /// owned as someone else's, such as an adopted one created again). An object of that name
    /// already there is returned as it is, so a create whose answer was lost can be sent again.
    pub async fn create<K: KubeObject>(
        &self,
        object: &K,
        field_manager: &str,
    ) -> Result<K, RemoteError> {
        let namespace = object.meta().namespace.as_deref();
        let name = object.meta().name.clone().unwrap_or_default();
        let api = self.api::<K>(namespace, &name, Call::Update)?;
        let params = PostParams {
            field_manager: Some(field_manager.to_string()),
            ..PostParams::default()
        };
        match self.call("create", || api.create(&params, object)).await {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                match self.get::<K>(namespace, &name).await? {
                    Some(existing) => Ok(existing),
                    None => Err(self.remote_error(
                        describe::<K>(namespace, &name),
                        Call::Update,
                        kube::Error::Api(status),
                    )),
                }
            }
            Err(source) => {
                Err(self.remote_error(describe::<K>(namespace, &name), Call::Update, source))
            }
        }
    }

    /// The object, or `None` when it does not exist.
    pub async fn get<K: KubeObject>(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<K>, RemoteError> {
        let api = self.api::<K>(namespace, name, Call::Get)?;
        self.call("get", || api.get_opt(name))
            .await
            .map_err(|source| self.remote_error(describe::<K>(namespace, name), Call::Get, source))
    }

    /// Asks for the object's deletion; true when there was an object to delete. Deletion may
    /// still be in progress on return (finalizers, foreground dependents): wait for it with
    /// `wait_deleted`. A delete whose answer was lost and that is sent again reports false.
    pub async fn delete<K: KubeObject>(
        &self,
        namespace: Option<&str>,
        name: &str,
        propagation: Propagation,
    ) -> Result<bool, RemoteError> {
        let api = self.api::<K>(namespace, name, Call::Delete)?;
        let params = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        match self.call("delete", || api.delete(name, &params)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(source) => {
                Err(self.remote_error(describe::<K>(namespace, name), Call::Delete, source))
            }
        }
    }

    /// The objects in `namespace` (or cluster-wide for cluster-scoped kinds) whose labels match
    /// `label_selector` (`""` for all).
    pub async fn list<K: KubeObject>(
        &self,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<K>, RemoteError> {
        let what = describe::<K>(namespace, "*");
        let api = self.api::<K>(namespace, "*", Call::List)?;
        let params = ListParams::default().labels(label_selector);
        self.call("list", || api.list(&params))
            .await
            .map(|list| list.items)
            .map_err(|source| self.remote_error(what, Call::List, source))
    }
}

/// The object as an apply intent: without the bookkeeping the server adds, so that an object
/// read back and applied again claims only its own fields and carries no stale preconditions.
fn intent_of<K: KubeObject>(object: &K) -> K {
    let mut intent = object.clone();
    let meta = intent.meta_mut();
    meta.resource_version = None;
    meta.uid = None;
    meta.managed_fields = None;
    meta.creation_timestamp = None;
    meta.generation = None;
    intent
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn objects_are_named_with_kind_and_namespace() {
        assert_eq!(
            describe::<StatefulSet>(Some("us-east1-b"), "cockroachdb"),
            "StatefulSet us-east1-b/cockroachdb"
        );
        assert_eq!(
            describe::<Namespace>(None, "us-east1-b"),
            "Namespace us-east1-b"
        );
    }

    #[test]
    fn apply_intents_drop_server_bookkeeping() {
        let stored = Namespace {
            metadata: ObjectMeta {
                name: Some("us-east1-b".into()),
                resource_version: Some("42".into()),
                uid: Some("u".into()),
                generation: Some(3),
                labels: Some([("app".to_string(), "crdb".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let intent = intent_of(&stored);
        assert_eq!(intent.metadata.resource_version, None);
        assert_eq!(intent.metadata.uid, None);
        assert_eq!(intent.metadata.labels, stored.metadata.labels);
        let json = serde_json::to_value(&intent).unwrap();
        assert_eq!(json["apiVersion"], "v1");
        assert_eq!(json["kind"], "Namespace");
    }

    #[tokio::test]
    async fn namespaced_kinds_without_a_namespace_fail_before_any_call() {
        let client = ClusterClient::from_kube(unreachable_client(), "https://127.0.0.1:1");
        let error = client
            .get::<StatefulSet>(None, "cockroachdb")
            .await
            .unwrap_err();
        assert_eq!(error.call, Call::Get);
        assert!(
            error.to_string().contains("StatefulSet is namespaced"),
            "{error}"
        );
    }

    fn unreachable_client() -> kube::Client {
        let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }
}
