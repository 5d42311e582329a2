module github.com/idpkit/terraform-provider-idp/tools/goreleaser

go 1.26.6

require github.com/goreleaser/goreleaser/v2 v2.15.1
