# In a directory of its own, next to the configuration that will adopt the
# estate:  tofu apply && tofu output -raw configuration > ../estate/estate.tf
data "idp_estate" "all" {
  # projects = ["shop", "blog"] # default: every project in the cluster
}

output "configuration" {
  value = data.idp_estate.all.configuration
}

# What looks like a project's application or database but cannot be adopted
# as it is, and why.
output "skipped" {
  value = data.idp_estate.all.skipped
}
