//! The controllers a real control plane and kubelet run, emulated per cluster.

pub mod meta;
pub mod revision;
pub mod statefulset;
