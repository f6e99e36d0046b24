//! Every certificate the module produces, parsed back with x509-parser and held against what CockroachDB checks
//! (notes: "Certificates (as CockroachDB validates them)"). Signatures are verified, never assumed.

mod generated_ca;
mod inspection;
mod leaf_certificates;
mod redaction;
mod user_ca;
