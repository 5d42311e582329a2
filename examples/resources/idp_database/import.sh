# A database is imported by <project>/<name>; type, version, port, size and
# storage_class are read from its StatefulSet <project>-<name>-db (also one
# made by the idp Helm chart), and the next apply adopts it in place.
tofu import idp_database.mysql shop/mysql
