//! Acceptance tests: the real `terraform` CLI drives the real provider binary.
mod bad_input;
mod certificates;
mod cluster;
mod day2;
mod examples;
mod faults;
mod harness;
mod modern;
mod regions;
mod release;
mod removal;
mod secrets;
mod setup_script;
mod sql;
mod upgrade;
mod workflows;
mod workspaces;
