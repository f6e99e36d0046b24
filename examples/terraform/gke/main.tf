# One secure CockroachDB cluster over three GKE clusters in three regions, created in the same
# configuration, with the network the procedure needs:
#
#   - one VPC with a subnet per region; every cluster VPC-native (pod IPs come from a secondary range
#     of its subnet), so pod IPs are routable between the clusters without NAT;
#   - a firewall rule letting every cluster's pods reach every other cluster's CockroachDB nodes on
#     26257 (SQL and inter-node traffic) and 8080 (HTTP): without it only one cluster's pods ever
#     become ready, the others wait for peers they cannot reach;
#   - kube-dns as the cluster DNS (not Cloud DNS for GKE), whose stub domains `crdb_dns_link` writes;
#   - internal DNS load balancers with global access, so peers resolve each other over the VPC and
#     no DNS server is exposed to the internet.
#
# Nothing here needs a GKE cluster to exist at plan time: each crdb_region gets its connection from
# its cluster's (unknown until apply) endpoint and CA. No Kubernetes provider is configured.
#
# Prerequisites:
#   - Terraform >= 1.0.3 (or OpenTofu >= 1.6) and the crdb provider installed (README, "Installing a
#     release"); the hashicorp/google provider comes from its registry at `terraform init`.
#   - gcloud with `gke-gcloud-auth-plugin` on PATH (`gcloud components install gke-gcloud-auth-plugin`),
#     logged in twice: `gcloud auth application-default login` for hashicorp/google (Application
#     Default Credentials) and `gcloud auth login` for the plugin, which by default takes its token
#     from gcloud's active account; every crdb resource reaches its cluster through the plugin. Where
#     only Application Default Credentials exist (a CI service account), add
#     `args = ["--use_application_default_credentials"]` to each `exec` block.
#   - In the project: the Compute Engine and Kubernetes Engine APIs enabled
#     (`gcloud services enable compute.googleapis.com container.googleapis.com`), quota for nine
#     n2-standard-4 nodes in three regions, and roles to create networks, firewall rules and clusters
#     (roles/container.admin and roles/compute.networkAdmin, or Owner).
#   - Variables: `project` and `console_password` (required); `image`, `deletion_protection`.
#
#   terraform init && terraform apply -var project=<your project> -var console_password=<password>
#
# Destroying: GKE clusters and CockroachDB regions refuse deletion while `deletion_protection` is true
# (the default, so that a stray destroy cannot delete data): `terraform apply -var deletion_protection=false`
# first, then `terraform destroy` with the same variables.
terraform {
  # 1.0.3 is the oldest Terraform the provider is tested with (docs/guides/compatibility.md).
  required_version = ">= 1.0.3"
  required_providers {
    # 7.x or 8.x: what this example uses (`dns_config.cluster_dns = "KUBE_DNS"`, the network, subnetwork,
    # firewall and cluster arguments) is documented alike in both; 8.0 changed none of it.
    google = { source = "hashicorp/google", version = ">= 7.0, < 9.0" }
    crdb   = { source = "crdb/crdb", version = "~> 0.1" }
  }
}

variable "project" {
  type        = string
  description = "The Google Cloud project the network and clusters are created in."
}

variable "console_password" {
  type        = string
  sensitive   = true
  description = "Password of the `console` SQL user, for DB Console logins."
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "Whether the GKE clusters and CockroachDB regions refuse to be deleted. Apply it as false before `terraform destroy`."
}

variable "image" {
  type        = string
  default     = "cockroachdb/cockroach:v24.1.0"
  description = "The CockroachDB image; changing it upgrades the cluster one node at a time."
}

locals {
  # zone => the cluster's region and its subnet's address ranges. Each zone is one GKE cluster, one
  # namespace and one CockroachDB locality (`region=<region>,zone=<zone>`). The ranges must not
  # overlap anywhere in the VPC.
  zones = {
    "us-east1-b" = {
      region   = "us-east1"
      nodes    = "10.10.0.0/20"
      pods     = "10.100.0.0/16"
      services = "10.110.0.0/20"
    }
    "us-west1-a" = {
      region   = "us-west1"
      nodes    = "10.20.0.0/20"
      pods     = "10.101.0.0/16"
      services = "10.111.0.0/20"
    }
    "europe-west1-c" = {
      region   = "europe-west1"
      nodes    = "10.30.0.0/20"
      pods     = "10.102.0.0/16"
      services = "10.112.0.0/20"
    }
  }
}

provider "google" {
  project = var.project
}

# One global VPC: subnets in different regions of one VPC route to each other without peering, and
# GKE's internal load balancers with global access are reachable from every region of it.
resource "google_compute_network" "crdb" {
  name                    = "crdb"
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "zone" {
  for_each      = local.zones
  name          = "crdb-${each.key}"
  region        = each.value.region
  network       = google_compute_network.crdb.id
  ip_cidr_range = each.value.nodes

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = each.value.pods
  }
  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = each.value.services
  }
}

# CockroachDB nodes talk to each other directly, pod to pod, across clusters: allow the pod ranges
# (and the node ranges, which health checks and NodePort traffic come from) to reach the nodes on
# the SQL/RPC port and the HTTP port. This is the original procedure's `allow-cockroach-internal`.
resource "google_compute_firewall" "cockroach_between_clusters" {
  name    = "crdb-allow-cockroach-internal"
  network = google_compute_network.crdb.id

  allow {
    protocol = "tcp"
    ports    = ["26257", "8080"]
  }
  source_ranges = flatten([for z in local.zones : [z.pods, z.nodes]])
}

# Peers' DNS servers forward each other's zone names to the internal DNS load balancers. GKE opens
# the load balancer's own port for clients inside the VPC; this rule says so explicitly, so that a
# VPC with a default-deny policy still lets the kube-dns pods of every cluster ask the others.
resource "google_compute_firewall" "dns_between_clusters" {
  name    = "crdb-allow-dns-internal"
  network = google_compute_network.crdb.id

  allow {
    protocol = "udp"
    ports    = ["53"]
  }
  allow {
    protocol = "tcp"
    ports    = ["53"]
  }
  source_ranges = flatten([for z in local.zones : [z.pods, z.nodes]])
}

resource "google_container_cluster" "zone" {
  for_each           = local.zones
  name               = "crdb-${each.key}"
  location           = each.key
  initial_node_count = 3
  network            = google_compute_network.crdb.id
  subnetwork         = google_compute_subnetwork.zone[each.key].id

  # VPC-native: pods get addresses from the subnet's `pods` range, routable across the VPC.
  networking_mode = "VPC_NATIVE"
  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  # kube-dns, whose `stubDomains` crdb_dns_link merges its forwarding into, said explicitly:
  # `PLATFORM_DEFAULT` means kube-dns on Standard clusters today, but is whatever GKE makes the
  # default. Cloud DNS for GKE (and Autopilot, which always uses it) resolves through Google's
  # managed DNS instead, and crdb_dns_link refuses such a cluster.
  dns_config {
    cluster_dns = "KUBE_DNS"
  }

  node_config {
    machine_type = "n2-standard-4"
  }

  # Blocks this example's own `terraform destroy` until applied as false (see the header).
  deletion_protection = var.deletion_protection
}

resource "crdb_multiregion_cluster" "main" {
  name  = "main"
  image = var.image
  zones = keys(local.zones)
}

resource "crdb_region" "zone" {
  for_each = local.zones
  cluster  = crdb_multiregion_cluster.main
  zone     = each.key
  region   = each.value.region
  replicas = 3
  # Destroying a region deletes its namespace and data.
  deletion_protection = var.deletion_protection

  # Internal load balancers with global access: peers resolve each other over the VPC.
  dns_load_balancer = "gke-internal"

  kubernetes {
    host                   = "https://${google_container_cluster.zone[each.key].endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.zone[each.key].master_auth[0].cluster_ca_certificate)
    # A credential plugin rather than `data.google_client_config.current.access_token`: an access
    # token lasts an hour, and a rolling upgrade of a large cluster can take longer. The plugin
    # writes a `client.authentication.k8s.io/v1beta1` ExecCredential.
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }

  # The firewall rules must exist before nodes try to join across clusters.
  depends_on = [
    google_compute_firewall.cockroach_between_clusters,
    google_compute_firewall.dns_between_clusters,
  ]
}

resource "crdb_dns_link" "zone" {
  for_each = local.zones
  zone     = each.key
  # Every region's DNS address; a link never forwards its own zone. kube-dns asks over UDP, which the
  # `gke-internal` load balancers serve (`dns_protocol = "udp"`).
  peers          = { for z, r in crdb_region.zone : z => r.dns_address }
  peer_protocols = { for z, r in crdb_region.zone : z => r.dns_protocol }

  # The same credential plugin as every other resource (an access token would expire after an hour).
  kubernetes {
    host                   = "https://${google_container_cluster.zone[each.key].endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.zone[each.key].master_auth[0].cluster_ca_certificate)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }
}

# SQL runs as a Job next to the first zone's nodes, with that cluster's credentials: no local
# cockroach binary and no network path to the nodes are needed.
resource "crdb_sql_user" "console" {
  name     = "console"
  password = var.console_password
  roles    = ["admin"]
  zone     = crdb_region.zone[keys(local.zones)[0]].zone

  kubernetes {
    host                   = "https://${google_container_cluster.zone[keys(local.zones)[0]].endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.zone[keys(local.zones)[0]].master_auth[0].cluster_ca_certificate)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }
}

# A database that survives the loss of a whole region: 5 voters per range over the three regions.
resource "crdb_database" "app" {
  name            = "app"
  primary_region  = local.zones[keys(local.zones)[0]].region
  regions         = [for z in local.zones : z.region]
  survival_goal   = "region"
  cluster_regions = [for r in crdb_region.zone : r.region]
  zone            = crdb_region.zone[keys(local.zones)[0]].zone
  # A database region needs live nodes: the links wait until their zones' nodes are ready.
  depends_on = [crdb_dns_link.zone]

  kubernetes {
    host                   = "https://${google_container_cluster.zone[keys(local.zones)[0]].endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.zone[keys(local.zones)[0]].master_auth[0].cluster_ca_certificate)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }
}

output "db_console" {
  description = "The DB Console (the original procedure's port-forward), logged in as the console user."
  value       = "kubectl -n ${keys(local.zones)[0]} port-forward service/cockroachdb-public 8080, then open https://localhost:8080 and log in as ${crdb_sql_user.console.name}"
}

output "connection_urls" {
  description = "Per zone, a root connection URL for a client pod that mounts the root client secret at /cockroach-certs."
  value       = { for z, r in crdb_region.zone : z => r.connection_url }
}

output "kubectl_contexts" {
  description = "How to point kubectl at each cluster."
  value = {
    for z, c in google_container_cluster.zone :
    z => "gcloud container clusters get-credentials ${c.name} --location ${c.location} --project ${var.project}"
  }
}

output "sql_shell" {
  description = "A SQL shell as root, from inside the first zone's cluster (the original procedure's last step)."
  value       = "kubectl -n ${keys(local.zones)[0]} exec -it cockroachdb-0 -- cockroach sql --certs-dir=/cockroach/cockroach-certs --host=cockroachdb-public"
}

output "dns_addresses" {
  value = { for z, r in crdb_region.zone : z => r.dns_address }
}
