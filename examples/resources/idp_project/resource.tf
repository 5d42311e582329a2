# Before the first apply, the project's credentials live in Vault (KV v2,
# under the provider's vault.kv_mount):
#   vault kv put -mount=injunweb shop-github-access username=ci-bot token=ghp_...
#   vault kv put -mount=injunweb shop-registry username='robot$shop' password=...
resource "idp_project" "shop" {
  name = "shop"

  labels = {
    team = "web"
  }

  # Only the ingress controller and Argo Events may reach the project's pods.
  isolation          = true
  allowed_namespaces = ["traefik", "argo-events"]

  timeouts {
    create = "15m" # waits for Argo Events CRDs installed by an app-of-apps
  }
}
