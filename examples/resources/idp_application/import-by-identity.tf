# OpenTofu and Terraform 1.12+: an application's identity is its project and name.
import {
  to       = idp_application.api
  identity = { project = "shop", name = "api" }
}
