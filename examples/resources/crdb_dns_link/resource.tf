# Each cluster forwards the other zones' names to their DNS load balancers; a link skips its own
# zone, so every link can take the same map.
resource "crdb_dns_link" "zone" {
  for_each = crdb_region.all
  zone     = each.value.zone
  peers    = { for r in crdb_region.all : r.zone => r.dns_address }
  # The protocol each peer's load balancer serves: CoreDNS forwards with it, kube-dns needs `udp`.
  peer_protocols = { for r in crdb_region.all : r.zone => r.dns_protocol }

  # The gke-gcloud-auth-plugin credential plugin, as in examples/terraform/gke: it renews its token in a
  # long apply, where an access token would expire after an hour.
  kubernetes {
    host                   = "https://${google_container_cluster.zone[each.key].endpoint}"
    cluster_ca_certificate = base64decode(google_container_cluster.zone[each.key].master_auth[0].cluster_ca_certificate)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "gke-gcloud-auth-plugin"
    }
  }
}
