# Every push to main builds an image with kaniko and rolls it out in the
# cluster. After the first apply, CI owns the deployed commit: `tofu plan`
# stays empty when CI deploys, and git.hash reads the deployed commit.
resource "idp_application" "api" {
  project = idp_project.shop.name
  name    = "api"

  git = {
    owner  = "myorg"
    repo   = "my-api"
    branch = "main"
    # hash = "3f2a..."  # pin a commit (rollback or freeze); remove to hand it back to CI
  }

  port     = 8080
  replicas = 2
  domains  = ["api.example.com", "www.example.com"]

  # Environment variables come from Vault (M/shop-api-secret by default):
  #   vault kv put -mount=injunweb shop-api-secret DATABASE_URL=...

  timeouts {
    update = "15m" # a pinned commit's rollout is waited for
  }
}

# The old chart's way to deploy: a repository_dispatch to a GitOps repository
# whose pipeline sets git.hash, instead of the in-cluster rollout.
resource "idp_application" "web" {
  project = idp_project.shop.name
  name    = "web"
  git     = { owner = "myorg", repo = "web", branch = "main" }
  port    = 3000

  dispatch = {
    repository = "myorg/gitops"
  }
}
