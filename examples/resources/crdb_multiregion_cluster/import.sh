# Import a cluster by its name. Only a cluster whose CA you bring (ca_certificate and
# ca_private_key in the configuration) can be adopted: a CA the provider generated lives only in
# the Terraform state it was created in and cannot be recovered by import; without a CA in the
# configuration the next apply generates a new one.
terraform import crdb_multiregion_cluster.adopted legacy
