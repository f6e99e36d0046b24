//! The answers for features of protocol 5.5 this provider does not offer, worded as the protocol
//! documents them: a function call gets a function error (the provider defines no function), a
//! move across resource types a diagnostic naming source and target (its server capabilities say
//! `move_resource_state = false`, so a client only asks by mistake).
use crate::framework::diag::Diagnostics;
use crate::proto::tfplugin5 as pb;

pub(super) fn call_function(request: &pb::call_function::Request) -> pb::call_function::Response {
    pb::call_function::Response {
        result: None,
        error: Some(pb::FunctionError {
            // terraform-plugin-framework's wording for a name it does not know.
            text: format!(
                "Function Not Found: No function named {:?} was found in the provider.",
                request.name
            ),
            function_argument: None,
        }),
    }
}

pub(super) fn move_resource_state(
    request: &pb::move_resource_state::Request,
) -> pb::move_resource_state::Response {
    let diags = Diagnostics::with_error(
        "Unable to Move Resource State",
        format!(
            "No resource type of this provider accepts state moved from another resource type. A `moved` block \
             can only rename a resource of the same type.\n\n\
             Source provider address: {}\nSource resource type: {}\nSource schema version: {}\n\
             Target resource type: {}",
            request.source_provider_address,
            request.source_type_name,
            request.source_schema_version,
            request.target_type_name,
        ),
    );
    pb::move_resource_state::Response {
        target_state: None,
        diagnostics: diags.to_proto(),
        target_private: Vec::new(),
    }
}
