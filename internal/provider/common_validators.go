package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// nameValidators checks a name that objects are derived from; max keeps
// every derived name within Kubernetes' limits (see render/names.go).
func nameValidators(max int) []validator.String {
	return []validator.String{
		stringvalidator.LengthBetween(1, max),
		stringvalidator.RegexMatches(dnsLabel,
			"must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"),
	}
}

// vaultPathValidator checks a KV v2 secret path relative to the mount.
type vaultPathValidator struct{}

var vaultPath = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

func (vaultPathValidator) Description(context.Context) string {
	return "a Vault KV v2 path relative to the mount: segments of letters, digits, '.', '_' and '-' separated by '/'"
}

func (v vaultPathValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v vaultPathValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	p := req.ConfigValue.ValueString()
	var problem string
	switch {
	case strings.HasPrefix(p, "data/") || strings.HasPrefix(p, "metadata/"):
		problem = "must not start with data/ or metadata/: give the path as `vault kv get -mount=M <path>` takes it"
	case !vaultPath.MatchString(p):
		problem = "must be " + v.Description(ctx)
	case strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./"):
		problem = "must not contain . or .. segments"
	}
	if problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Vault path", fmt.Sprintf("%q %s.", p, problem))
	}
}

// labelsValidator checks Kubernetes label keys and values.
type labelsValidator struct{ annotations bool }

func (v labelsValidator) Description(context.Context) string {
	if v.annotations {
		return "keys must be valid Kubernetes annotation keys"
	}
	return "keys and values must be valid Kubernetes label keys and values"
}

func (v labelsValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v labelsValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for key, val := range req.ConfigValue.Elements() {
		p := req.Path.AtMapKey(key)
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			resp.Diagnostics.AddAttributeError(p, "Invalid key", fmt.Sprintf("%q: %s", key, strings.Join(errs, "; ")))
		}
		str, ok := val.(types.String)
		if v.annotations || !ok || str.IsUnknown() || str.IsNull() {
			continue
		}
		s := str.ValueString()
		if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
			resp.Diagnostics.AddAttributeError(p, "Invalid label value", fmt.Sprintf("%q: %s", s, strings.Join(errs, "; ")))
		}
	}
}
