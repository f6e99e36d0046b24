# A one-hour client certificate for the SQL user `app`, issued by the cluster CA each time Terraform opens it
# (every plan and apply), never written to plan or state. Here it configures a PostgreSQL provider that creates a
# schema as `app` (cyrilgdn/postgresql 1.20+ takes an inline certificate and key): provider configurations accept
# ephemeral values.
resource "crdb_sql_user" "app" {
  name                = "app"
  password_wo         = var.app_password
  password_wo_version = 1
  zone                = crdb_region.all["us-east1-b"].zone

  kubernetes {
    # the same connection as crdb_region.all["us-east1-b"]
  }
}

ephemeral "crdb_client_certificate" "app" {
  cluster  = crdb_multiregion_cluster.main
  username = crdb_sql_user.app.name
  ttl      = "1h"
}

provider "postgresql" {
  # The SQL service, reached from where Terraform runs (a load balancer or a port-forward).
  host        = "cockroachdb-public.us-east1-b"
  port        = 26257
  database    = "defaultdb"
  username    = ephemeral.crdb_client_certificate.app.username
  sslmode     = "verify-full"
  sslrootcert = "${path.module}/ca.crt" # the cluster CA (its `ca_certificate`, public) as a file
  superuser   = false

  clientcert {
    cert      = ephemeral.crdb_client_certificate.app.certificate
    key       = ephemeral.crdb_client_certificate.app.private_key
    sslinline = true
  }
}
