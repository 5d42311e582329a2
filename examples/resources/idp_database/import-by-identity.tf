# OpenTofu and Terraform 1.12+: a database's identity is its project and name.
import {
  to       = idp_database.mysql
  identity = { project = "shop", name = "mysql" }
}
