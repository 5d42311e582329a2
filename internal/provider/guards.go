package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

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
// claims each contested name for owner (render.LabelOwner) with a write that
// only one of two racing resources can win (engine.Claim). Services made
// before the label existed are still compared by selector (serviceTaken),
// on the claim's own read.
//
// Only contested objects are claimed: a name no other resource of the
// project derives needs no race, and its one write is the apply (a claim
// costs a read, a create and a second write to take the create's fields
// over: three requests more per object).
//
// It returns the objects the claim created (it creates those that do not
// exist yet), for a create that fails later to remove.
func guardNames(ctx context.Context, eng *engine.Engine, owner string, objs []*unstructured.Unstructured, diags *diag.Diagnostics) []engine.Ref {
	var claim []*unstructured.Unstructured
	for _, o := range objs {
		if contested(o) {
			claim = append(claim, o)
		}
	}
	created, err := eng.ClaimCreating(ctx, render.LabelOwner, owner, claim, serviceTaken)
	var taken *engine.OwnerConflictError
	var selects *selectorConflict
	switch {
	case errors.As(err, &taken):
		diags.AddAttributeError(path.Root("name"), "Name already taken",
			fmt.Sprintf("%s already belongs to %s (label %s=%s): both derive this name. Nothing was applied to the cluster; "+
				"choose another name, or destroy that resource first.",
				taken.Ref, render.DescribeOwner(taken.Ref.Namespace, taken.Owner), taken.Label, taken.Owner))
	case errors.As(err, &selects):
		diags.AddAttributeError(path.Root("name"), "Name already taken", selects.Error())
	case err != nil:
		diags.AddError("Claiming object names", err.Error())
	}
	return created
}

// contested says whether another resource of the project can derive obj's
// name: an application and a database of one name share their Service and
// Secret names (render.ChildNameClash), and two applications' routes can
// meet (render.LabelOwner). Every other name has a suffix of its own
// resource kind and a prefix of its own resource name.
func contested(obj *unstructured.Unstructured) bool {
	switch obj.GetKind() {
	case "Service", "Secret", "IngressRoute":
		return true
	}
	return false
}

// refuseManaged runs first in a create: a resource whose anchor object
// carries a completed create's mark (engine.MarkCreated) is managed from
// another state, and a create must not take it over silently. importAs is
// what `tofu import` takes for it.
func refuseManaged(ctx context.Context, eng *engine.Engine, anchor engine.Ref, resourceType, importAs string, diags *diag.Diagnostics) {
	when, err := eng.CreatedMark(ctx, anchor, render.AnnotationCreated)
	switch {
	case err != nil:
		diags.AddError("Reading "+anchor.String(), err.Error())
	case when != "":
		diags.AddAttributeError(path.Root("name"), "Already managed elsewhere",
			fmt.Sprintf("%s already exists: it was created by terraform-provider-idp at %s, and is managed from another state "+
				"(annotation %s). Nothing was changed. To manage it from this configuration, import it "+
				"(tofu import %s.<name> %s) and remove it from the other state (tofu state rm), or choose another name.",
				anchor, when, render.AnnotationCreated, resourceType, importAs))
	}
}

// refuseForeign runs in a create (no prior state: an import is an update),
// before anything is written: an object the resource would write that
// exists without our marks (engine.Foreign) was made by someone else, and a
// create that took it over would hand it to our destroy. Objects with our
// marks (an interrupted create's) are adopted as before. importAs is what
// `tofu import` takes for the resource.
func refuseForeign(ctx context.Context, eng *engine.Engine, ids []render.ID, resourceType, importAs string, diags *diag.Diagnostics) {
	foreign, err := eng.Foreign(ctx, toRefs(ids), render.LabelManagedBy+"="+render.ManagedBy, render.LabelOwner)
	if err != nil {
		diags.AddError("Reading the objects to create", err.Error())
		return
	}
	if len(foreign) == 0 {
		return
	}
	names := make([]string, len(foreign))
	for i, ref := range foreign {
		names[i] = "  " + ref.String()
	}
	diags.AddAttributeError(path.Root("name"), "Objects exist that are not ours",
		fmt.Sprintf("These objects already exist and were not made by terraform-provider-idp (no label %s=%s, no field manager %s):\n%s\n"+
			"A create never takes over someone else's objects: destroying the resource would delete them. Nothing was changed.\n\n"+
			"If they are this %s as the idp chart or another tool made them, adopt them with\n  tofu import %s.<name> %s\n"+
			"Otherwise choose another name, or remove the objects.",
			render.LabelManagedBy, render.ManagedBy, engine.FieldManager, strings.Join(names, "\n"),
			strings.TrimPrefix(resourceType, "idp_"), resourceType, importAs))
}

// markCreated records on anchor that its resource's create (or an apply
// after an import) completed: from now on a create in another state refuses it.
func markCreated(ctx context.Context, eng *engine.Engine, anchor engine.Ref, diags *diag.Diagnostics) {
	if err := eng.MarkCreated(ctx, anchor, render.AnnotationCreated, time.Now().UTC().Format(time.RFC3339)); err != nil {
		diags.AddError("Recording the completed apply", err.Error())
	}
}

// The anchor of each resource: the object refresh knows it exists by.
func projectAnchor(p string) engine.Ref {
	return toRef(render.NamespaceID(p))
}

func applicationAnchor(p, a string) engine.Ref {
	return toRef(render.EventSourceID(p, a))
}

func databaseAnchor(p, d string) engine.Ref {
	return toRef(render.DatabaseStatefulSetID(p, d))
}

// serviceTaken refuses to take over a Service that selects other pods.
// An application and a database of one project share the Service name
// space, and a forced apply would silently send one's traffic to the other.
// Services made by the old chart select the same pods and are adopted.
// The claim asks only about Services without an owner label: a labelled one
// is the claim's to judge (a racing database may have written it already).
func serviceTaken(obj, live *unstructured.Unstructured) error {
	if obj.GetKind() != "Service" {
		return nil
	}
	want, have := render.ParseServiceSelector(obj), render.ParseServiceSelector(live)
	if maps.Equal(want, have) {
		return nil
	}
	return &selectorConflict{ref: engine.RefOf(obj), want: want, have: have}
}

// selectorConflict: a Service to claim selects other pods (serviceTaken).
type selectorConflict struct {
	ref        engine.Ref
	want, have map[string]string
}

func (e *selectorConflict) Error() string {
	return fmt.Sprintf("Service %s already exists and selects %v, not %v: another application or database of project %s "+
		"(or something else) uses this name. Nothing was applied to the cluster; choose another name.", e.ref, e.have, e.want, e.ref.Namespace)
}
