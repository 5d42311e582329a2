# Bootstrapping a cluster from nothing, in one `tofu apply`:
#
#   1. the argocd provider creates an app-of-apps, and ArgoCD then installs
#      Argo Events, Argo Workflows and Traefik (with their CRDs) on its own time;
#   2. the idp resources are planned without those CRDs (and even while the
#      cluster's address is still unknown), and at apply time they wait for
#      the CRDs to appear, up to their create timeout.
#
# Nothing here needs -target or a second apply.

terraform {
  required_providers {
    idp = {
      source = "idpkit/idp"
    }
    argocd = {
      source = "argoproj-labs/argocd"
    }
  }
}

variable "kubeconfig" {
  description = "Kubeconfig of the cluster ArgoCD runs in."
  type        = string
}

provider "argocd" {
  server_addr = "argocd.example.com:443"
  # auth_token from ARGOCD_AUTH_TOKEN
}

# Settings may come from resources created in this same apply: the idp
# provider contacts nothing until a resource needs it.
provider "idp" {
  kubernetes {
    config_path = var.kubeconfig
  }
  vault {
    address  = "https://vault.example.com"
    kv_mount = "injunweb"
  }
  registry {
    host    = "harbor.example.com"
    project = "injunweb"
  }
  webhook_base_url = "https://webhook.example.com"
}

# The app-of-apps: a directory of Applications for Argo Events, Argo
# Workflows and Traefik. ArgoCD syncs it after this resource is created.
resource "argocd_application" "platform" {
  metadata {
    name      = "platform"
    namespace = "argocd"
  }

  spec {
    project = "default"

    source {
      repo_url        = "https://github.com/myorg/platform.git"
      path            = "apps"
      target_revision = "main"
    }

    destination {
      server    = "https://kubernetes.default.svc"
      namespace = "argocd"
    }

    sync_policy {
      automated {
        prune     = true
        self_heal = true
      }
    }
  }
}

resource "idp_project" "shop" {
  name = "shop"

  # Ordering only: the project's EventBus needs Argo Events' CRDs, which
  # exist some minutes after the app-of-apps is created.
  depends_on = [argocd_application.platform]

  timeouts {
    create = "20m" # how long to wait for the CRDs
  }
}

resource "idp_application" "api" {
  project = idp_project.shop.name
  name    = "api"
  git     = { owner = "myorg", repo = "my-api", branch = "main" }
  port    = 8080
  domains = ["api.example.com"]

  timeouts {
    create = "20m" # waits for Argo Workflows' and Traefik's CRDs
  }
}

resource "idp_database" "mysql" {
  project = idp_project.shop.name
  name    = "mysql"
  type    = "mysql"
  version = "8.0"
  size    = "5Gi"
}
