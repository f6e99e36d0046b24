# One region of the EKS example: a VPC, an EKS cluster with a managed node group, the access entries
# of whoever else runs Terraform, and the add-ons CockroachDB needs there. The root module peers the
# VPCs and deploys CockroachDB. Nothing here talks to the Kubernetes API: the storage class comes
# from the EBS CSI add-on itself, so no Kubernetes provider is configured from a cluster this same
# apply creates (hashicorp/kubernetes warns against exactly that).
terraform {
  required_version = ">= 1.0.3"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
}

variable "name" {
  type        = string
  description = "The cluster's name, also the prefix of everything else in this region."
}

variable "vpc_cidr" {
  type        = string
  description = "This region's VPC range; it must not overlap any peer's, or peering cannot route."
}

variable "admin_principal_arns" {
  type        = list(string)
  default     = []
  description = "IAM roles or users, besides the one creating the cluster, that get cluster-admin access (a CI role, for example): crdb's resources call the Kubernetes API as whoever runs Terraform."
}

variable "peer_cidrs" {
  type        = list(string)
  description = "The other regions' VPC ranges: routed through the peering connections, allowed to reach the nodes, and kept out of SNAT."
}

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  # Three subnets in three availability zones. CockroachDB's locality is the region (the zone of
  # crdb_region is the namespace); the nodes spread over the AZs through pod anti-affinity.
  azs = slice(data.aws_availability_zones.available.names, 0, 3)
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "nodes" {
  count                   = length(local.azs)
  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = true
  tags = {
    Name = "${var.name}-${local.azs[count.index]}"
    # Where the load balancer controllers put internal load balancers (the DNS load balancer).
    "kubernetes.io/role/internal-elb" = "1"
    "kubernetes.io/role/elb"          = "1"
  }
}

# Routes are separate resources (no inline `route` blocks): the root module adds the routes to the
# peers once the peering connections exist.
resource "aws_route_table" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.this.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "nodes" {
  count          = length(aws_subnet.nodes)
  subnet_id      = aws_subnet.nodes[count.index].id
  route_table_id = aws_route_table.this.id
}

data "aws_iam_policy_document" "assume" {
  for_each = { cluster = "eks.amazonaws.com", nodes = "ec2.amazonaws.com" }
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.name}-cluster"
  assume_role_policy = data.aws_iam_policy_document.assume["cluster"].json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_iam_role" "nodes" {
  name               = "${var.name}-nodes"
  assume_role_policy = data.aws_iam_policy_document.assume["nodes"].json
}

resource "aws_iam_role_policy_attachment" "nodes" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    # The EBS CSI driver provisions the nodes' data volumes; without it their claims stay Pending.
    "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
  ])
  role       = aws_iam_role.nodes.name
  policy_arn = each.value
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids = aws_subnet.nodes[*].id
  }

  # Access entries (the EKS API) rather than the aws-auth ConfigMap, which needs the Kubernetes API to
  # edit. The creator becomes cluster admin; anyone else who runs Terraform later needs an entry below.
  access_config {
    authentication_mode                         = "API_AND_CONFIG_MAP"
    bootstrap_cluster_creator_admin_permissions = true
  }

  depends_on = [aws_iam_role_policy_attachment.cluster]
}

# A principal other than the creator (a CI role) that applies this configuration: without an entry,
# `aws eks get-token` gives it a token the cluster refuses (401), and every crdb resource fails.
resource "aws_eks_access_entry" "admin" {
  for_each      = toset(var.admin_principal_arns)
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
}

resource "aws_eks_access_policy_association" "admin" {
  for_each      = aws_eks_access_entry.admin
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

# CockroachDB nodes talk pod to pod across the VPCs on 26257 (SQL and RPC) and 8080 (HTTP), and the
# peers' CoreDNS asks this region's DNS load balancer on 53. The managed node group's instances
# carry the cluster security group; with the VPC CNI, pods use the instances' security groups.
resource "aws_vpc_security_group_ingress_rule" "from_peers" {
  for_each = {
    for pair in setproduct(var.peer_cidrs, [
      { protocol = "tcp", port = 26257 },
      { protocol = "tcp", port = 8080 },
      { protocol = "tcp", port = 53 },
      { protocol = "udp", port = 53 },
    ]) : "${pair[0]}-${pair[1].protocol}-${pair[1].port}" => pair
  }
  security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  cidr_ipv4         = each.value[0]
  ip_protocol       = each.value[1].protocol
  from_port         = each.value[1].port
  to_port           = each.value[1].port
}

resource "aws_eks_node_group" "this" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "default"
  node_role_arn   = aws_iam_role.nodes.arn
  subnet_ids      = aws_subnet.nodes[*].id
  instance_types  = ["m6i.xlarge"]

  scaling_config {
    desired_size = 3
    min_size     = 3
    max_size     = 4
  }

  depends_on = [aws_iam_role_policy_attachment.nodes]
}

# The VPC CNI translates pod addresses to the node's address for traffic leaving the VPC. Traffic to
# a peer VPC must keep the pod's own address, or the peer's nodes answer an address that is not the
# one the node advertised.
resource "aws_eks_addon" "vpc_cni" {
  cluster_name = aws_eks_cluster.this.name
  addon_name   = "vpc-cni"
  # EKS installs vpc-cni itself when it creates the cluster: taking it over with a configuration of
  # our own fails on the fields EKS set unless the add-on may overwrite them.
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  configuration_values = jsonencode({
    env = { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS = join(",", var.peer_cidrs) }
  })
}

# The class of the nodes' data volumes comes with the driver: `defaultStorageClass` (add-on version
# 1.31.0 or later: with `addon_version` unset, EKS installs the add-on's default version for the
# cluster's Kubernetes version) makes the add-on create `ebs-csi-default-sc`: provisioner ebs.csi.aws.com,
# WaitForFirstConsumer, allowVolumeExpansion true (so crdb_region can grow `storage_size` in place),
# marked the cluster default. EKS's own gp2 class cannot grow, and clusters created at Kubernetes
# 1.30 or later have no default class at all. The class sets no parameters: the driver makes gp3
# volumes, encrypted only where the account encrypts EBS by default.
resource "aws_eks_addon" "ebs_csi" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "aws-ebs-csi-driver"
  resolve_conflicts_on_create = "OVERWRITE"
  configuration_values = jsonencode({
    defaultStorageClass = { enabled = true }
  })
  depends_on = [aws_eks_node_group.this]
}

output "name" {
  value = aws_eks_cluster.this.name
}

output "region" {
  # `name` is deprecated in version 6 of the AWS provider.
  value = data.aws_region.current.region
}

output "endpoint" {
  value = aws_eks_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  value = base64decode(aws_eks_cluster.this.certificate_authority[0].data)
}

output "vpc_id" {
  value = aws_vpc.this.id
}

output "route_table_id" {
  value = aws_route_table.this.id
}

output "storage_class" {
  # The name the EBS CSI add-on gives its default class; the root module's crdb_region depends on
  # this whole module, so no volume is claimed before the add-on exists.
  value = "ebs-csi-default-sc"
}
