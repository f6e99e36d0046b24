# One secure CockroachDB cluster over three GKE clusters in three regions, created in the same
# configuration. Nothing here needs a GKE cluster to exist at plan time: each crdb_region gets its
# connection from its cluster's (unknown until apply) endpoint and CA.
#
#   terraform init && terraform apply
terraform {
  required_providers {
    google = { source = "hashicorp/google" }
    crdb   = { source = "crdb/crdb" }
  }
}

variable "project" {
  type = string
}

locals {
  # zone => region; each zone is one GKE cluster and one CockroachDB locality.
  zones = {
    "us-east1-b"     = "us-east1"
    "us-west1-a"     = "us-west1"
    "europe-west1-c" = "europe-west1"
  }
}

provider "google" {
  project = var.project
}

data "google_client_config" "current" {}

resource "google_container_cluster" "zone" {
  for_each           = local.zones
  name               = "crdb-${each.key}"
  location           = each.key
  initial_node_count = 3
  node_config {
    machine_type = "n2-standard-4"
  }
  deletion_protection = true
}

resource "crdb_multiregion_cluster" "main" {
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = keys(local.zones)
}

resource "crdb_region" "zone" {
  for_each = local.zones
  cluster  = crdb_multiregion_cluster.main
  zone     = each.key
  region   = each.value
  replicas = 3

  # Internal load balancers with global access: peers resolve each other over the VPC.
  dns_load_balancer = "gke-internal"

  kubernetes {
    host                   = "https://${google_container_cluster.zone[each.key].endpoint}"
    token                  = data.google_client_config.current.access_token
    cluster_ca_certificate = base64decode(google_container_cluster.zone[each.key].master_auth[0].cluster_ca_certificate)
  }
}

resource "crdb_dns_link" "zone" {
  for_each = local.zones
  zone     = each.key
  # Every region's DNS address; a link never forwards its own zone.
  peers = { for z, r in crdb_region.zone : z => r.dns_address }

  kubernetes {
    host                   = "https://${google_container_cluster.zone[each.key].endpoint}"
    token                  = data.google_client_config.current.access_token
    cluster_ca_certificate = base64decode(google_container_cluster.zone[each.key].master_auth[0].cluster_ca_certificate)
  }
}
