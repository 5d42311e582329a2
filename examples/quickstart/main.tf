# The quickstart that `make demo` applies against the local stack.
# Provider settings come from the environment (.stack/env).
terraform {
  required_providers {
    idp = {
      source = "idpkit/idp"
    }
  }
}

provider "idp" {}

resource "idp_project" "shop" {
  name = "shop"

  labels = {
    team = "web"
  }
}

output "shop_objects" {
  description = "What landed in the cluster, and whether it is in sync."
  value       = idp_project.shop.objects
}
