//! Namespace lifecycle: a deleted namespace shows phase Terminating with the real conditions, its contents are
//! deleted, and once nothing is left the `kubernetes` finalizer is removed from spec.finalizers and it goes. An
//! object whose finalizer nobody removes keeps the namespace Terminating forever, as in reality.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::{log_err, meta, ControllerContext, Reconcile};
use crate::store::{Propagation, RESOURCE_TYPES};

/// A real namespace deletion takes a few seconds even when empty (discovery, per-type deletes).
const MIN_TERMINATING: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct Controller {
    terminating_since: HashMap<String, Instant>,
}

/// What is left in a terminating namespace: per resource type, how many objects and which finalizers hold them.
#[derive(Debug, Default, PartialEq)]
pub struct Remaining {
    pub counts: BTreeMap<String, usize>,
    pub finalizers: BTreeMap<String, usize>,
}

/// The status conditions the namespace controller reports while content remains.
pub fn conditions(rem: &Remaining, now: &str) -> Value {
    let cond = |t: &str, status: bool, reason: &str, message: String| {
        json!({"type": t, "status": if status { "True" } else { "False" }, "lastTransitionTime": now,
               "reason": reason, "message": message})
    };
    let content = rem
        .counts
        .iter()
        .map(|(k, n)| format!("{k} has {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ");
    let fins = rem
        .finalizers
        .iter()
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ");
    json!([
        cond(
            "NamespaceDeletionDiscoveryFailure",
            false,
            "ResourcesDiscovered",
            "All resources successfully discovered".into()
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into()
        ),
        cond(
            "NamespaceDeletionContentFailure",
            false,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".into()
        ),
        if rem.counts.is_empty() {
            cond(
                "NamespaceContentRemaining",
                false,
                "ContentRemoved",
                "All content successfully removed".into(),
            )
        } else {
            cond(
                "NamespaceContentRemaining",
                true,
                "SomeResourcesRemain",
                format!("Some resources are remaining: {content}"),
            )
        },
        if rem.finalizers.is_empty() {
            cond(
                "NamespaceFinalizersRemaining",
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".into(),
            )
        } else {
            cond(
                "NamespaceFinalizersRemaining",
                true,
                "SomeFinalizersRemain",
                format!("Some content in the namespace has finalizers remaining: {fins}"),
            )
        },
    ])
}

impl Reconcile for Controller {
    fn reconcile(&mut self, ctx: &ControllerContext) {
        let ns_rt = ctx.rt("namespaces");
        let namespaces = ctx.store.list(ns_rt, None);
        self.terminating_since
            .retain(|uid, _| namespaces.iter().any(|n| meta::uid(n) == uid));
        for ns in namespaces.iter().filter(|n| meta::is_deleting(n)) {
            let name = meta::name(ns).to_string();
            let since = *self
                .terminating_since
                .entry(meta::uid(ns).to_string())
                .or_insert_with(Instant::now);
            let mut rem = Remaining::default();
            for rt in RESOURCE_TYPES.iter().filter(|rt| rt.namespaced) {
                for obj in ctx.store.list(rt, Some(&name)) {
                    if !meta::is_deleting(&obj) {
                        log_err(
                            "namespace content delete",
                            ctx.store.delete(
                                rt,
                                Some(&name),
                                meta::name(&obj),
                                Propagation::Background,
                            ),
                        );
                    }
                }
                let left = ctx.store.list(rt, Some(&name));
                if !left.is_empty() {
                    rem.counts.insert(rt.qualified(), left.len());
                    for obj in &left {
                        for f in obj
                            .pointer("/metadata/finalizers")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            *rem.finalizers
                                .entry(f.as_str().unwrap_or("").to_string())
                                .or_default() += 1;
                        }
                    }
                }
            }
            let done =
                rem.counts.is_empty() && since.elapsed() >= ctx.clock.scaled(MIN_TERMINATING);
            if done {
                let mut finalized = ns.clone();
                finalized["spec"]["finalizers"] = json!([]);
                log_err("namespace finalize", ctx.store.update(ns_rt, finalized));
                continue;
            }
            let old_conditions = ns
                .pointer("/status/conditions")
                .cloned()
                .unwrap_or(Value::Null);
            let mut new_conditions = conditions(&rem, &meta::now_rfc3339());
            // Keep transition times stable when nothing changed, so the status is not rewritten every pass.
            if strip_times(&old_conditions) == strip_times(&new_conditions) {
                new_conditions = old_conditions;
            }
            let mut updated = ns.clone();
            updated["status"] = json!({"phase": "Terminating", "conditions": new_conditions});
            if updated != *ns {
                log_err("namespace status", ctx.store.update_status(ns_rt, updated));
            }
        }
    }
}

fn strip_times(conds: &Value) -> Value {
    let mut c = conds.clone();
    for item in c.as_array_mut().into_iter().flatten() {
        if let Some(o) = item.as_object_mut() {
            o.remove("lastTransitionTime");
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_name_what_remains() {
        let mut rem = Remaining::default();
        rem.counts.insert("configmaps".into(), 1);
        rem.finalizers.insert("example.com/keep".into(), 1);
        let c = conditions(&rem, "2026-01-01T00:00:00Z");
        let remaining = c
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "NamespaceFinalizersRemaining")
            .unwrap();
        assert_eq!(remaining["status"], "True");
        assert!(remaining["message"]
            .as_str()
            .unwrap()
            .contains("example.com/keep in 1 resource instances"));
    }
}
