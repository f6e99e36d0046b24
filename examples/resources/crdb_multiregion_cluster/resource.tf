# A cluster over three zones with a generated CA.
resource "crdb_multiregion_cluster" "main" {
  name  = "main"
  image = "cockroachdb/cockroach:v24.1.0"
  zones = ["us-east1-b", "us-west1-a", "europe-west1-c"]
}

# The same cluster adopting the CA the old setup script left in its safe directory.
resource "crdb_multiregion_cluster" "adopted" {
  name           = "legacy"
  image          = "cockroachdb/cockroach:v24.1.0"
  zones          = ["us-east1-b", "us-west1-a", "europe-west1-c"]
  ca_certificate = file("${path.module}/my-safe-directory/ca.crt")
  ca_private_key = file("${path.module}/my-safe-directory/ca.key")
}

# Major-version upgrades kept open for a rollback: with "manual", moving `image` from v24.1 to v24.3
# holds the cluster at 24.1 (`cluster_version`) so that `image` may go back; "auto" finalizes.
resource "crdb_multiregion_cluster" "careful" {
  name                 = "careful"
  image                = "cockroachdb/cockroach:v24.3.0"
  upgrade_finalization = "manual"
  zones                = ["us-east1-b", "us-west1-a", "europe-west1-c"]
}

# A CA whose key stays in your secret store and never enters the state (Terraform 1.11+, OpenTofu 1.11+): set
# TF_VAR_ca_key for the runs that sign (creation, renewals, new zones, a CA rotation); each crdb_region of the
# cluster is given the same key in its own `ca_private_key_wo`. See the security guide.
variable "ca_key" {
  type      = string
  sensitive = true
  ephemeral = true
  default   = null
}

resource "crdb_multiregion_cluster" "keyless" {
  name              = "keyless"
  image             = "cockroachdb/cockroach:v24.1.0"
  zones             = ["us-east1-b", "us-west1-a", "europe-west1-c"]
  ca_certificate    = file("${path.module}/ca.crt")
  ca_private_key_wo = var.ca_key
}
