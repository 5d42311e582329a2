# OpenTofu and Terraform 1.12+: an import block may name the project by its
# identity instead of an id.
import {
  to       = idp_project.shop
  identity = { name = "shop" }
}
