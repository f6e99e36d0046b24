//! UpgradeResourceState: stored state, in the shape the schema version that wrote it had, read
//! into the current schema. Terraform calls it for every resource on every run.
use super::registry::Entry;
use super::{encode_stored, Typed};
use crate::framework::diag::Diagnostics;
use crate::framework::json;
use crate::proto::tfplugin5 as pb;

/// The stored state as the current schema's value, or `None` with the reason in `diags`.
pub(super) fn upgrade(
    entry: &Entry,
    version: i64,
    raw_state: Option<pb::RawState>,
    diags: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
    let raw = raw_state.unwrap_or_default();
    let type_name = Typed::type_name(entry);
    if raw.json.is_empty() {
        // The protocol sends JSON, or the flatmap form Terraform 0.11 and earlier stored. Those
        // versions spoke plugin protocol 4, which this provider never served, so a flatmap state
        // under its type was written by something else; it is refused rather than guessed at.
        if raw.flatmap.is_empty() {
            diags.error(
                "Missing stored state",
                format!(
                    "The client asked to upgrade the stored state of a {type_name} but sent none (neither JSON \
                     nor the legacy flatmap form). The state is left as it is; this is a bug in the client."
                ),
            );
        } else {
            diags.error(
                "Unsupported state format",
                format!(
                    "The stored state of this {type_name} (schema version {version}, {} flatmap keys) is in the \
                     flatmap format of Terraform 0.11 and earlier, which never ran this provider: it cannot have \
                     been written by it. Remove the resource from the state (`terraform state rm`) and import \
                     the object again.",
                    raw.flatmap.len()
                ),
            );
        }
        return None;
    }
    if version > entry.schema.version {
        diags.error(
            "State written by a newer provider",
            format!(
                "{type_name} state has schema version {version}, this provider knows up to {}. Use the provider \
                 version that wrote it.",
                entry.schema.version
            ),
        );
        return None;
    }
    let stored = match serde_json::from_slice::<serde_json::Value>(&raw.json) {
        Ok(stored) => stored,
        Err(e) => {
            diags.error("Stored state is not valid JSON", e.to_string());
            return None;
        }
    };
    let current = match entry.resource.upgrade_state(version, stored) {
        Ok(current) => current,
        Err(d) => {
            diags.extend(d);
            return None;
        }
    };
    match json::from_json(&current, &entry.value_type, "") {
        Ok(value) => encode_stored(value, entry, diags),
        Err(e) => {
            diags.error("Cannot read stored state", e.to_string());
            None
        }
    }
}
