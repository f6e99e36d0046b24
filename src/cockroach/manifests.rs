//! The Kubernetes objects of one zone, as typed k8s-openapi values: what the `crdb_region` resource applies with
//! server-side apply, so every field set here is one the provider owns.
//!
//! One zone is one namespace in one Kubernetes cluster. A few objects live outside it: a copy of the `root` client
//! secret in `default` and the DNS load balancer in `kube-system`, both named after the zone so that two zones
//! sharing one Kubernetes cluster never own the same object; and the `default/cockroachdb-public` alias, which keeps
//! its shared name because the node certificate covers it (see `alias_claim`).

mod command;
mod init_job;
mod inventory;
mod layout;
mod live;
pub mod names;
mod secrets;
mod services;
mod spec;
mod sql_job;
mod workload;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use spec::fixtures;
#[cfg(test)]
pub(crate) use spec::fixtures::spec as spec_fixture;

pub use command::{
    init_already_done, init_command, join_list, locality, memory_flag_value, start_command,
};
pub use init_job::{
    decommission_job, decommission_job_name, gate_job, init_job, node_status_job, run_in_image,
    sql_job, JobTarget, NODE_STATUS_JOB,
};
pub use inventory::{
    namespace, teardown_refs, zone_object_refs, zone_objects, ObjectRef, ZoneObject,
};
pub use layout::Layout;
pub use live::{
    fit_to_live, live_locality, node_container, observe_data_volumes, observe_nodes,
    template_is_ours, ObservedDataVolumes, ObservedNodes, TemplateFit,
};
pub use secrets::{client_root_secret, node_secret};
pub use sql_job::{sql_script_job, sql_script_secret};
/// The file names inside the zone's secrets.
pub mod secret_files {
    pub use super::secrets::{pair, text, CA_CRT, NODE_CRT, NODE_KEY, ROOT_CRT, ROOT_KEY};
}
pub use services::{
    alias_claim, dns_load_balancer, external_name_alias, headless_service, kind_annotations,
    live_dns_protocol, mixes_protocols, public_service, service_protocols, AliasClaim,
};
pub use spec::{
    DnsLoadBalancer, DnsProtocol, LoadBalancerKind, NodeResources, SpecError, ZoneCertificates,
    ZoneSpec,
};
pub use workload::{
    annotate_certificates, certificates_annotation, drop_certificates_annotation, held_partition,
    hold_rollout, join_config_map, node_pod_labels, pod_disruption_budget, role, role_binding,
    service_account, stateful_set, without_partition,
};
