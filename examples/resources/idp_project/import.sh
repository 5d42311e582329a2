# A project is imported by its name (its namespace).
tofu import idp_project.shop shop
