package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// guardNames runs before an application or database applies objs: a name
// its objects share with another resource of the project fails here, at
// the name, with the resource that has it, and nothing is applied.
//
// Plan cannot decide this: tofu plans every resource before applying any,
// and two resources created in one apply run in parallel. So the engine
// claims each name for owner (render.LabelOwner) with a write that only one
// of two racing resources can win (engine.Claim). Services made before the
// label existed are still compared by selector (guardServices).
//
// It returns the objects the claim created (it creates those that do not
// exist yet), for a create that fails later to remove.
func guardNames(ctx context.Context, eng *engine.Engine, owner string, objs []*unstructured.Unstructured, diags *diag.Diagnostics) []engine.Ref {
	guardServices(ctx, eng, objs, diags)
	if diags.HasError() {
		return nil
	}
	created, err := eng.ClaimCreating(ctx, render.LabelOwner, owner, objs)
	var taken *engine.OwnerConflictError
	switch {
	case errors.As(err, &taken):
		diags.AddAttributeError(path.Root("name"), "Name already taken",
			fmt.Sprintf("%s already belongs to %s (label %s=%s): both derive this name. Nothing was applied to the cluster; "+
				"choose another name, or destroy that resource first.",
				taken.Ref, render.DescribeOwner(taken.Ref.Namespace, taken.Owner), taken.Label, taken.Owner))
	case err != nil:
		diags.AddError("Claiming object names", err.Error())
	}
	return created
}
