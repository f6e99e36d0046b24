//! The capabilities the two sides exchange: what this provider tells the client it supports, and
//! what a request says the client supports.
use crate::framework::ClientCapabilities;
use crate::proto::tfplugin5 as pb;

/// Exactly what the provider supports beyond protocol 5's baseline, for GetSchema and GetMetadata.
pub(super) fn server() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        // Destroys are planned too, so that a protected resource refuses one at plan time.
        plan_destroy: true,
        // GetSchema only describes: nothing is set up by it, so a cached schema serves as well.
        get_provider_schema_optional: true,
        // No resource accepts state moved from another resource type (`moved` across types).
        move_resource_state: false,
    }
}

/// What a request's `client_capabilities` say; a request without them (a client older than
/// protocol 5.6) supports none.
pub(super) fn client(sent: Option<pb::ClientCapabilities>) -> ClientCapabilities {
    let sent = sent.unwrap_or_default();
    ClientCapabilities {
        deferral_allowed: sent.deferral_allowed,
        write_only_attributes_allowed: sent.write_only_attributes_allowed,
    }
}
