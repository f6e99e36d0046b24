# A user for the DB Console and applications. The password is write-only (Terraform 1.11+, OpenTofu 1.11+): hashed
# (SCRAM-SHA-256) in the provider during apply, only the hash reaches the cluster, and neither plan nor state
# keeps it. Bump password_wo_version to set a new one. With an older client, use `password` instead (kept,
# sensitive, in state). The SQL runs as a Job in the given zone, through its kubernetes block.
variable "console_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "crdb_sql_user" "console" {
  name                = "console"
  password_wo         = var.console_password
  password_wo_version = 1
  roles               = ["admin"]
  zone                = crdb_region.all["us-east1-b"].zone

  # The gke-gcloud-auth-plugin credential plugin, as in examples/terraform/gke: it renews its token in a
  # long apply, where an access token would expire after an hour.
  kubernetes {
    host                   = "https://${google_container_cluster.zone["us-east1-b"].endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.zone["us-east1-b"].master_auth[0].cluster_ca_certificate)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }
}
