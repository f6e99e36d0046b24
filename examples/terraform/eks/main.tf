# One secure CockroachDB cluster over three EKS clusters in three AWS regions, created in the same
# configuration, with the network the procedure needs:
#
#   - one VPC per region with non-overlapping ranges, peered with every other region (a full mesh of
#     inter-region VPC peering), and routes to each peer through its peering connection;
#   - security group rules letting each peer's pods reach the nodes on 26257 (SQL and RPC), 8080 (HTTP)
#     and 53 (the DNS load balancer);
#   - the VPC CNI told not to translate traffic to the peers (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS);
#   - the EBS CSI driver for the data volumes, and its add-on's default class (gp3, expandable);
#   - internal network load balancers for DNS (`dns_load_balancer = "aws-internal"`, TCP only), which
#     CoreDNS in the peers reaches over the peering with `force_tcp` (`peer_protocols`); the provider
#     resolves their host names to the addresses CoreDNS forwards to (internal load balancer names
#     resolve publicly to private addresses).
#
# Providers cannot be repeated with for_each, so each region is written out: provider aliases and one
# call of ./region per region. No Kubernetes provider is configured: the crdb resources carry their
# own connection, and the storage class comes from the EBS CSI add-on, so one apply creates it all.
#
# Prerequisites:
#   - Terraform >= 1.0.3 (or OpenTofu >= 1.6) and the crdb provider installed (README, "Installing a
#     release"); hashicorp/aws comes from its registry at `terraform init`.
#   - The AWS CLI v2 on PATH (`aws eks get-token` is how every crdb resource authenticates), with
#     credentials for the account, allowed to create VPCs, peering, EKS clusters, node groups, add-ons
#     and IAM roles; quota for three VPCs and nine m6i.xlarge instances.
#   - Whoever runs Terraform must be able to reach the clusters' API: the creator is made cluster admin;
#     list any other role that applies this configuration later (a CI role) in `admin_principal_arns`.
#   - Variables: none required; `image`, `admin_principal_arns`, `deletion_protection`.
#
#   terraform init && terraform apply
#
# Destroying: the CockroachDB regions refuse deletion while `deletion_protection` is true (the
# default, so that a stray destroy cannot delete data): `terraform apply -var deletion_protection=false`
# first, then `terraform destroy`.
terraform {
  # 1.0.3 is the oldest Terraform the provider is tested with (docs/guides/compatibility.md).
  required_version = ">= 1.0.3"
  required_providers {
    # 6.x: `data.aws_region.current.region`, access entries, add-on conflict resolution.
    aws  = { source = "hashicorp/aws", version = "~> 6.0" }
    crdb = { source = "crdb/crdb", version = "~> 0.1" }
  }
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "Whether the CockroachDB regions refuse to be deleted (their data with them). Apply it as false before `terraform destroy`."
}

variable "admin_principal_arns" {
  type        = list(string)
  default     = []
  description = "IAM role or user ARNs, besides the creator's, given cluster-admin access entries on every cluster (a CI role that runs later applies)."
}

variable "image" {
  type        = string
  default     = "cockroachdb/cockroach:v24.1.0"
  description = "The CockroachDB image; changing it upgrades the cluster one node at a time."
}

locals {
  cidrs = {
    "us-east-1" = "10.10.0.0/16"
    "us-west-2" = "10.20.0.0/16"
    "eu-west-1" = "10.30.0.0/16"
  }
  peers_of = { for r, cidr in local.cidrs : r => [for p, c in local.cidrs : c if p != r] }

  # The zone of each crdb_region: one EKS cluster and one namespace per AWS region, named after it
  # as in CockroachDB's EKS guide.
  clusters = {
    "us-east-1" = module.us_east_1
    "us-west-2" = module.us_west_2
    "eu-west-1" = module.eu_west_1
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "us_west_2"
  region = "us-west-2"
}

provider "aws" {
  alias  = "eu_west_1"
  region = "eu-west-1"
}

module "us_east_1" {
  source               = "./region"
  providers            = { aws = aws.us_east_1 }
  name                 = "crdb-us-east-1"
  vpc_cidr             = local.cidrs["us-east-1"]
  peer_cidrs           = local.peers_of["us-east-1"]
  admin_principal_arns = var.admin_principal_arns
}

module "us_west_2" {
  source               = "./region"
  providers            = { aws = aws.us_west_2 }
  name                 = "crdb-us-west-2"
  vpc_cidr             = local.cidrs["us-west-2"]
  peer_cidrs           = local.peers_of["us-west-2"]
  admin_principal_arns = var.admin_principal_arns
}

module "eu_west_1" {
  source               = "./region"
  providers            = { aws = aws.eu_west_1 }
  name                 = "crdb-eu-west-1"
  vpc_cidr             = local.cidrs["eu-west-1"]
  peer_cidrs           = local.peers_of["eu-west-1"]
  admin_principal_arns = var.admin_principal_arns
}

# The peering mesh: each connection is requested from one region and accepted in the other.

resource "aws_vpc_peering_connection" "east_west" {
  provider    = aws.us_east_1
  vpc_id      = module.us_east_1.vpc_id
  peer_vpc_id = module.us_west_2.vpc_id
  peer_region = "us-west-2"
}

resource "aws_vpc_peering_connection_accepter" "east_west" {
  provider                  = aws.us_west_2
  vpc_peering_connection_id = aws_vpc_peering_connection.east_west.id
  auto_accept               = true
}

resource "aws_vpc_peering_connection" "east_eu" {
  provider    = aws.us_east_1
  vpc_id      = module.us_east_1.vpc_id
  peer_vpc_id = module.eu_west_1.vpc_id
  peer_region = "eu-west-1"
}

resource "aws_vpc_peering_connection_accepter" "east_eu" {
  provider                  = aws.eu_west_1
  vpc_peering_connection_id = aws_vpc_peering_connection.east_eu.id
  auto_accept               = true
}

resource "aws_vpc_peering_connection" "west_eu" {
  provider    = aws.us_west_2
  vpc_id      = module.us_west_2.vpc_id
  peer_vpc_id = module.eu_west_1.vpc_id
  peer_region = "eu-west-1"
}

resource "aws_vpc_peering_connection_accepter" "west_eu" {
  provider                  = aws.eu_west_1
  vpc_peering_connection_id = aws_vpc_peering_connection.west_eu.id
  auto_accept               = true
}

# Each VPC routes each peer's range through the connection between them.

resource "aws_route" "us_east_1_to_us_west_2" {
  provider                  = aws.us_east_1
  route_table_id            = module.us_east_1.route_table_id
  destination_cidr_block    = local.cidrs["us-west-2"]
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.east_west.id
}

resource "aws_route" "us_east_1_to_eu_west_1" {
  provider                  = aws.us_east_1
  route_table_id            = module.us_east_1.route_table_id
  destination_cidr_block    = local.cidrs["eu-west-1"]
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.east_eu.id
}

resource "aws_route" "us_west_2_to_us_east_1" {
  provider                  = aws.us_west_2
  route_table_id            = module.us_west_2.route_table_id
  destination_cidr_block    = local.cidrs["us-east-1"]
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.east_west.id
}

resource "aws_route" "us_west_2_to_eu_west_1" {
  provider                  = aws.us_west_2
  route_table_id            = module.us_west_2.route_table_id
  destination_cidr_block    = local.cidrs["eu-west-1"]
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.west_eu.id
}

resource "aws_route" "eu_west_1_to_us_east_1" {
  provider                  = aws.eu_west_1
  route_table_id            = module.eu_west_1.route_table_id
  destination_cidr_block    = local.cidrs["us-east-1"]
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.east_eu.id
}

resource "aws_route" "eu_west_1_to_us_west_2" {
  provider                  = aws.eu_west_1
  route_table_id            = module.eu_west_1.route_table_id
  destination_cidr_block    = local.cidrs["us-west-2"]
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.west_eu.id
}

resource "crdb_multiregion_cluster" "main" {
  name  = "main"
  image = var.image
  zones = keys(local.clusters)
}

resource "crdb_region" "zone" {
  for_each = local.clusters
  cluster  = crdb_multiregion_cluster.main
  zone     = each.key
  region   = each.key
  replicas = 3

  storage_class = each.value.storage_class
  # Destroying a region deletes its namespace and data (see the header).
  deletion_protection = var.deletion_protection

  # An internal network load balancer: reachable from the peered VPCs, not from the internet.
  dns_load_balancer = "aws-internal"

  kubernetes {
    host                   = each.value.endpoint
    cluster_ca_certificate = each.value.cluster_ca_certificate
    # EKS tokens last 15 minutes: a credential plugin fetches a fresh one whenever it expires.
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", each.value.name, "--region", each.value.region]
    }
  }

  # Each region's nodes, CNI setting and storage class first; the routes before nodes try to join
  # their peers.
  depends_on = [
    module.us_east_1,
    module.us_west_2,
    module.eu_west_1,
    aws_route.us_east_1_to_us_west_2,
    aws_route.us_east_1_to_eu_west_1,
    aws_route.us_west_2_to_us_east_1,
    aws_route.us_west_2_to_eu_west_1,
    aws_route.eu_west_1_to_us_east_1,
    aws_route.eu_west_1_to_us_west_2,
  ]
}

resource "crdb_dns_link" "zone" {
  for_each = local.clusters
  zone     = each.key
  # EKS runs CoreDNS: the link adds one server block per peer zone, forwarding with the protocol the peer's
  # load balancer serves (`aws-internal`: a TCP NLB, so `force_tcp`).
  peers          = { for z, r in crdb_region.zone : z => r.dns_address }
  peer_protocols = { for z, r in crdb_region.zone : z => r.dns_protocol }

  kubernetes {
    host                   = each.value.endpoint
    cluster_ca_certificate = each.value.cluster_ca_certificate
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", each.value.name, "--region", each.value.region]
    }
  }
}

output "kubectl_contexts" {
  description = "How to point kubectl at each cluster."
  value       = { for z, c in local.clusters : z => "aws eks update-kubeconfig --name ${c.name} --region ${c.region}" }
}

output "dns_addresses" {
  value = { for z, r in crdb_region.zone : z => r.dns_address }
}
