# What runs now, and whether it is the head of the branch (with a GitHub token).
data "idp_application" "api" {
  project = "shop"
  name    = "api"
}

output "api_deployed" {
  value = {
    commit     = data.idp_application.api.deployed_hash
    ready      = "${data.idp_application.api.ready_replicas}/${data.idp_application.api.desired_replicas}"
    up_to_date = data.idp_application.api.up_to_date
  }
}
