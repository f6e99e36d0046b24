# The ID is the database name, or `<kubeconfig context>/<zone>/<name>` to read its regions and survival goal
# there at once.
terraform import crdb_database.shop gke_my-project_us-east1-b_crdb/us-east1-b/shop
terraform import crdb_database.shop shop
