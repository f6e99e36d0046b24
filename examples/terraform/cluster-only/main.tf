# The identity and PKI of a three-zone cluster, with nothing else: runs anywhere, contacts nothing.
#   terraform apply && terraform output
terraform {
  # 1.0.3 is the oldest Terraform the provider is tested with (docs/guides/compatibility.md).
  required_version = ">= 1.0.3"
  required_providers {
    crdb = { source = "crdb/crdb", version = "~> 0.1" }
  }
}

resource "crdb_multiregion_cluster" "main" {
  name  = "demo"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["us-east1-b", "us-west1-a", "europe-west1-c"]
}

output "version" {
  value = crdb_multiregion_cluster.main.version
}

output "init_zone" {
  value = crdb_multiregion_cluster.main.init_zone
}

output "join_addresses" {
  value = crdb_multiregion_cluster.main.join_addresses
}

output "ca_fingerprint_sha256" {
  value = crdb_multiregion_cluster.main.ca_fingerprint_sha256
}
