# The ID is `<kubeconfig context>/<zone>` or `<zone>`.
#
# With a context (from KUBE_CONFIG_PATH, else KUBECONFIG, else ~/.kube/config), import reads what runs in
# that cluster: replicas, storage, requests and limits, locality, the DNS load balancer and its address,
# the node certificate, whether the cluster was initialised from this zone. The next plan then shows only
# what import cannot know: the `kubernetes` connection and the `cluster` it belongs to. Contexts may contain
# `/` (EKS context names are ARNs); the zone is what follows the last one.
terraform import crdb_region.us_east1_b gke_my-project_us-east1-b_crdb/us-east1-b

# With the zone alone, nothing is read until the first apply, which reads through the configured connection.
terraform import crdb_region.us_east1_b us-east1-b

# Applying the plan takes ownership of the existing objects with server-side apply, restarting nothing. A
# deployment made by the original multi-region setup script is adopted with its own names (`layout =
# "setup-script"`): its StatefulSet selector, its `kube-system/kube-dns-lb` DNS load balancer (peers keep its
# address), its `cockroachdb-budget` PodDisruptionBudget and its `default/cockroachdb.client.root` secret. Its
# pods keep the script's pod template until the image, the region, or requests and limits changed after import
# ask for a new one, which rolls the nodes one at a time. The script's node certificate is kept while it is
# signed by the cluster's CA; import the cluster with that CA (`ca_certificate`, `ca_private_key`).
