# One CockroachDB cluster over three emulated Kubernetes clusters (kube-sandbox), one per zone.
#
#   cargo run -p kube-sandbox -- --clusters us-east1-b,us-west1-a,europe-west1-c \
#       --dns us-east1-b=kube-dns,us-west1-a=coredns,europe-west1-c=kube-dns \
#       --kubeconfig sandbox.kubeconfig --speed 20
#   terraform apply -var kubeconfig=$PWD/sandbox.kubeconfig
#
# `scripts/demo.sh` does all of it for you.
terraform {
  # 1.0.3 is the oldest Terraform the provider is tested with (docs/guides/compatibility.md).
  required_version = ">= 1.0.3"
  required_providers {
    crdb = { source = "crdb/crdb", version = "~> 0.1" }
  }
}

variable "kubeconfig" {
  type        = string
  description = "The kubeconfig kube-sandbox wrote: one context per zone."
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "image" {
  type        = string
  default     = "cockroachdb/cockroach:v24.1.0"
  description = "The CockroachDB image; changing it upgrades the cluster."
}

variable "replicas" {
  type        = number
  default     = 3
  description = "CockroachDB nodes per zone; lowering it decommissions the nodes that go."
}

variable "stopped_zones" {
  type        = set(string)
  default     = []
  description = "Zones scaled to zero nodes with their volumes kept: the outage drill. Remove a zone to bring its nodes back on their data."
}

variable "console_password" {
  type        = string
  default     = null
  sensitive   = true
  description = "Password of the `console` SQL user (DB Console logins); without one it logs in with a client certificate only."
}

locals {
  zones = {
    "us-east1-b"     = "us-east1"
    "us-west1-a"     = "us-west1"
    "europe-west1-c" = "europe-west1"
  }
}

resource "crdb_multiregion_cluster" "main" {
  name  = "demo"
  image = var.image
  zones = keys(local.zones)
}

resource "crdb_region" "zone" {
  for_each            = local.zones
  cluster             = crdb_multiregion_cluster.main
  zone                = each.key
  region              = each.value
  replicas            = contains(var.stopped_zones, each.key) ? 0 : var.replicas
  deletion_protection = var.deletion_protection

  kubernetes {
    config_path    = var.kubeconfig
    config_context = each.key
  }
}

resource "crdb_dns_link" "zone" {
  for_each = local.zones
  zone     = each.key
  peers    = { for z, r in crdb_region.zone : z => r.dns_address }
  # The one protocol each peer's DNS load balancer serves: us-west1-a runs CoreDNS and forwards with it.
  peer_protocols = { for z, r in crdb_region.zone : z => r.dns_protocol }

  kubernetes {
    config_path    = var.kubeconfig
    config_context = each.key
  }
}

# SQL runs as a Job next to the nodes of one zone, through that zone's connection.
resource "crdb_sql_user" "console" {
  name     = "console"
  password = var.console_password
  roles    = ["admin"]
  zone     = crdb_region.zone["us-east1-b"].zone

  kubernetes {
    config_path    = var.kubeconfig
    config_context = "us-east1-b"
  }
}

# Survives the loss of a whole region: 5 voters per range over the three regions.
resource "crdb_database" "demo" {
  name            = "demo"
  primary_region  = "us-east1"
  regions         = values(local.zones)
  survival_goal   = "region"
  cluster_regions = [for r in crdb_region.zone : r.region]
  zone            = crdb_region.zone["us-east1-b"].zone
  # A database region needs live nodes: the links wait until their zones' nodes are ready.
  depends_on = [crdb_dns_link.zone]

  kubernetes {
    config_path    = var.kubeconfig
    config_context = "us-east1-b"
  }
}

output "sql_addresses" {
  description = "Each zone's SQL service inside its Kubernetes cluster."
  value       = { for z, r in crdb_region.zone : z => r.sql_address }
}

output "console" {
  description = "The DB Console from this machine, as the console user."
  # No port-forward recipe here: kube-sandbox does not emulate it (crates/kube-sandbox/README.md, "Not emulated").
  # On a real cluster, docs/guides/sql.md has it.
  value = "https://${crdb_region.zone["us-east1-b"].http_address} inside us-east1-b's cluster, as ${crdb_sql_user.console.name}"
}

output "dns_addresses" {
  value = { for z, r in crdb_region.zone : z => r.dns_address }
}

output "dns_providers" {
  value = { for z, l in crdb_dns_link.zone : z => l.detected_dns_provider }
}

output "version" {
  value = crdb_multiregion_cluster.main.version
}
