# The ID is `<kubeconfig context>/<zone>` or `<zone>`, as for crdb_region. With a context, import reads the
# DNS server and the zones the cluster forwards (`<zone>.svc.cluster.local` entries), so that the next plan
# shows only the connection; every forwarded zone becomes the link's to manage, and a zone the configuration's
# `peers` leave out shows as a removal. The next apply merges the peers into the cluster's DNS configuration,
# keeping every entry the provider does not own.
terraform import 'crdb_dns_link.zone["us-east1-b"]' gke_my-project_us-east1-b_crdb/us-east1-b
terraform import 'crdb_dns_link.zone["us-east1-b"]' us-east1-b
