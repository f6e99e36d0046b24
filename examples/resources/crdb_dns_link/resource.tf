# Each cluster forwards the other zones' names to their DNS load balancers; a link skips its own
# zone, so every link can take the same map.
resource "crdb_dns_link" "zone" {
  for_each = crdb_region.all
  zone     = each.value.zone
  peers    = { for r in crdb_region.all : r.zone => r.dns_address }
  # The protocol each peer's load balancer serves: CoreDNS forwards with it, kube-dns needs `udp`.
  peer_protocols = { for r in crdb_region.all : r.zone => r.dns_protocol }

  kubernetes {
    host                   = "https://${google_container_cluster.zone[each.key].endpoint}"
    token                  = data.google_client_config.current.access_token
    cluster_ca_certificate = base64decode(google_container_cluster.zone[each.key].master_auth[0].cluster_ca_certificate)
  }
}
