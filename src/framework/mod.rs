//! A small provider framework in the spirit of terraform-plugin-framework: typed values with
//! null and unknown, declarative schemas, diagnostics with attribute paths, shared planning
//! rules, timeouts and the resource contract.
pub mod capabilities;
pub mod diag;
pub mod ephemeral;
pub mod json;
pub mod model;
pub mod msgpack;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod schema_rules;
pub mod shared;
pub mod timeouts;
pub mod types;
pub mod value;

pub use capabilities::ClientCapabilities;
pub use diag::{AttributePath, Diagnostics};
pub use ephemeral::EphemeralResource;
pub use model::{Attr, FromValue, ToValue};
pub use resource::{Applied, ApplyOutcome, ModelResource, OperationContext, PlanRequest, Resource};
pub use schema::{Attribute, Block, Schema};
pub use shared::Shared;
pub use types::Type;
pub use value::Value;
