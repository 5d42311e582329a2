# The password is generated on create and kept in Vault (KV v2) at
# <vault.kv_mount>/shop-mysql-secret, key "password" (or, if a password is
# already there, that one is used). It never enters state or plan.
resource "idp_database" "mysql" {
  project = idp_project.shop.name
  name    = "mysql"
  type    = "mysql" # mysql | postgres | redis | mongodb
  version = "8.0"
  size    = "5Gi" # can grow, never shrink; port defaults by type (3306)

  # Optional: the StorageClass of its volume (unset: the cluster's default).
  # Fixed once created; growing size needs a class with allowVolumeExpansion.
  storage_class = "fast-ssd"
}

# Connection details for applications (the password stays in Vault).
output "mysql_host" {
  value = idp_database.mysql.host # mysql.shop.svc.cluster.local
}

output "mysql_user" {
  value = idp_database.mysql.username # mysql_user
}

resource "idp_database" "cache" {
  project = idp_project.shop.name
  name    = "cache"
  type    = "redis"
  version = "7.4"
  size    = "1Gi"

  # Destroying this one may delete its volume and password too.
  delete_data = true
}
