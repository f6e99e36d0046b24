//! Acceptance tests: the real `terraform` CLI drives the real provider binary.
mod bad_input;
mod cluster;
mod examples;
mod harness;
mod regions;
mod setup_script;
mod upgrade;
