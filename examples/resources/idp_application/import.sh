# An application is imported as <project>/<name>.
tofu import idp_application.api shop/api
