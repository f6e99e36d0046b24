# One zone of the cluster in a GKE cluster created in the same configuration.
resource "crdb_region" "us_east1_b" {
  cluster  = crdb_multiregion_cluster.main
  zone     = "us-east1-b"
  region   = "us-east1"
  replicas = 3

  storage_size   = "100Gi"
  memory_limit   = "8Gi"
  memory_request = "8Gi"

  # Peers reach this cluster's DNS over the VPC (needs a shared or peered VPC).
  dns_load_balancer = "gke-internal"

  kubernetes {
    host                   = "https://${google_container_cluster.us_east1_b.endpoint}"
    token                  = data.google_client_config.current.access_token
    cluster_ca_certificate = base64decode(google_container_cluster.us_east1_b.master_auth[0].cluster_ca_certificate)
  }

  timeouts {
    create = "30m"
    update = "60m"
    delete = "20m"
  }
}

# The same with a credential plugin, for long applies where a static token would expire.
resource "crdb_region" "us_west1_a" {
  cluster = crdb_multiregion_cluster.main
  zone    = "us-west1-a"
  region  = "us-west1"

  kubernetes {
    host                   = "https://${google_container_cluster.us_west1_a.endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.us_west1_a.master_auth[0].cluster_ca_certificate)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }
}
