# The ID is the user name, or `<kubeconfig context>/<zone>/<name>` to read the user's role memberships there
# at once. A password cannot be read back: the next apply sets the configured one.
terraform import crdb_sql_user.console gke_my-project_us-east1-b_crdb/us-east1-b/console
terraform import crdb_sql_user.console console
