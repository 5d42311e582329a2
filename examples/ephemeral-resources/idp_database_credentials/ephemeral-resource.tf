# Read the password from Vault for another provider without storing it in
# state or plan (Terraform >= 1.10, OpenTofu >= 1.11). project and name come
# from the database, and password_version makes the read wait for any apply
# that writes the database's Secret (creation, a rotation).
ephemeral "idp_database_credentials" "mysql" {
  project = idp_database.mysql.project
  name    = idp_database.mysql.name
  version = idp_database.mysql.password_version
}

provider "mysql" {
  endpoint = "${ephemeral.idp_database_credentials.mysql.host}:${ephemeral.idp_database_credentials.mysql.port}"
  username = "root"
  password = ephemeral.idp_database_credentials.mysql.password
}
