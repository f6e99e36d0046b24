//! Acceptance tests: the real `terraform` CLI drives the real provider binary.
mod attached;
mod bad_input;
mod certificates;
mod cluster;
mod clusters;
#[path = "../support/control_planes.rs"]
#[allow(dead_code)]
mod control_planes;
mod day2;
mod examples;
mod faults;
mod harness;
mod modern;
mod regions;
mod release;
mod removal;
mod secrets;
mod secrets_out;
mod setup_script;
mod sql;
mod stop;
mod upgrade;
mod workflows;
mod workspaces;
mod zone_budget;
