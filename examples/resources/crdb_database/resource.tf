# A multi-region database that survives the loss of a whole region: 5 voting replicas of each range spread
# over three regions, none holding a majority.
resource "crdb_database" "shop" {
  name            = "shop"
  primary_region  = "us-east1"
  regions         = ["us-east1", "us-west1", "europe-west1"]
  survival_goal   = "region"
  cluster_regions = distinct([for r in crdb_region.all : r.region])
  zone            = crdb_region.all["us-east1-b"].zone

  # A database region needs live nodes: the links wait until their zones' nodes are ready.
  depends_on = [crdb_dns_link.zone]

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
