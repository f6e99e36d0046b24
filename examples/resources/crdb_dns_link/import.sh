# Import a DNS link by the zone of its Kubernetes cluster. The next apply merges the peers into
# the cluster's DNS configuration, keeping every entry the provider does not own.
terraform import 'crdb_dns_link.zone["us-east1-b"]' us-east1-b
