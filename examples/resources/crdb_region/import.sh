# Import a region by its zone (the namespace it lives in), for example one the old setup script
# deployed. Import cannot know the wiring (cluster, kubernetes): the next plan shows it as an
# in-place update, and applying it takes ownership of the existing objects with server-side apply.
terraform import crdb_region.us_east1_b us-east1-b
