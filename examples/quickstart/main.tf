# The quickstart that `make demo` applies against the local stack.
# Provider settings come from the environment (.stack/env, plus the GitHub,
# registry and webhook settings the demo exports). The demo also adds a
# demo_override.tf: the stack's real node, and a repository on its local
# GitHub with no pinned commit, so that CI deploys every push.
terraform {
  required_providers {
    idp = {
      source = "idpkit/idp"
    }
  }
}

provider "idp" {}

# Namespace, CI event bus, CI service account with least-privilege RBAC,
# GitHub and registry credentials from Vault, network isolation.
resource "idp_project" "shop" {
  name = "shop"

  labels = {
    team = "web"
  }
}

# Push-to-deploy CI for a GitHub repository and a Service. A pinned commit
# (hash) is also deployed at once, with its route; without one, the first
# push deploys.
resource "idp_application" "api" {
  project = idp_project.shop.name
  name    = "api"

  git = {
    owner  = "myorg"
    repo   = "my-api"
    branch = "main"
    hash   = "4f1c3a9e2b7d8c6f5a4e3d2c1b0a9f8e7d6c5b4a"
  }

  port    = 8080
  domains = ["api.shop.local"]

  # CACHE_HOST, CACHE_PORT, CACHE_PASSWORD (from the database's Secret),
  # CACHE_URL, ... in the pods' environment.
  databases = [idp_database.cache]
}

# A database whose password is generated into Vault and never stored in state.
resource "idp_database" "cache" {
  project = idp_project.shop.name
  name    = "cache"
  type    = "redis"
  version = "7.0"
  size    = "1Gi"
}

output "api_objects" {
  description = "What landed in the cluster for the application, and whether it is in sync."
  value       = idp_application.api.objects
}

output "cache_host" {
  value = idp_database.cache.host
}
