terraform {
  required_providers {
    crdb = {
      source = "crdb/crdb"
    }
  }
}

# The provider has no settings: each crdb_region and crdb_dns_link carries its own Kubernetes
# connection, so clusters created in the same configuration can be used before they exist.
provider "crdb" {}
