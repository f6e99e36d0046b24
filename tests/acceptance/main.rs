//! Acceptance tests: the real `terraform` CLI drives the real provider binary.
mod cluster;
mod day2;
mod examples;
mod harness;
mod regions;
mod setup_script;
mod upgrade;
