# Terraform 1.14+: every idp_database running in the cluster, in a .tfquery.hcl
# file. `terraform query -generate-config-out=generated.tf` writes an import
# block and a resource for each result.
list "idp_database" "all" {
  provider         = idp
  include_resource = true
  # config {
  #   projects = ["shop", "blog"] # default: every project
  # }
}
