terraform {
  required_providers {
    idp = {
      source = "idpkit/idp"
    }
  }
}

# Every setting is optional and falls back to its environment variable
# (KUBECONFIG, VAULT_ADDR, VAULT_TOKEN, IDP_VAULT_KV_MOUNT, GITHUB_TOKEN, ...).
provider "idp" {
  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "production"
  }

  vault {
    address  = "https://vault.example.com"
    kv_mount = "injunweb"
    # token from VAULT_TOKEN
  }

  github {
    # token from GITHUB_TOKEN
  }

  registry {
    host    = "harbor.example.com"
    project = "injunweb"
  }

  webhook_base_url = "https://webhook.example.com"
}
