module github.com/idpkit/terraform-provider-idp/tools/terraform

go 1.26.6

require github.com/hashicorp/terraform v1.15.0
