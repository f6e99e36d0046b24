//! terraform-provider-crdb: a Terraform/OpenTofu provider (plugin protocol 5) that deploys one
//! secure CockroachDB cluster across several Kubernetes clusters.

/// Code generated from `proto/` at build time.
pub mod proto {
    #![allow(clippy::all, clippy::pedantic)]
    pub mod tfplugin5 {
        tonic::include_proto!("tfplugin5");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}

pub mod cockroach;
pub mod docs;
pub mod framework;
pub mod kubernetes;
pub mod logging;
pub mod plugin;
pub mod protocol;
pub mod resources;
#[cfg(test)]
mod test_env;
