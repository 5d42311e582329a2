package planmodifiers

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
)

// Change is what a message is worded from: the attribute's value in state
// and in the plan, and the resource's id.
type Change struct {
	From, To types.String
	ID       string
}

// Message is a diagnostic's summary and a detail worded from the change.
type Message struct {
	Summary string
	Detail  func(Change) string
}

// update returns the change when req is an update of a known value that
// differs from state, and false otherwise (create, destroy, unknown, equal).
func update(ctx context.Context, req planmodifier.StringRequest) (Change, bool) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.PlanValue.IsUnknown() || req.PlanValue.Equal(req.StateValue) {
		return Change{}, false
	}
	var id types.String
	_ = req.State.GetAttribute(ctx, path.Root("id"), &id)
	return Change{From: req.StateValue, To: req.PlanValue, ID: id.ValueString()}, true
}

// QuantityOnlyGrows rejects a Kubernetes quantity smaller than the one in
// state: volumes expand but never shrink.
func QuantityOnlyGrows(m Message) planmodifier.String { return quantityOnlyGrows{m} }

type quantityOnlyGrows struct{ m Message }

func (quantityOnlyGrows) Description(context.Context) string { return "can grow but never shrink" }
func (q quantityOnlyGrows) MarkdownDescription(ctx context.Context) string {
	return q.Description(ctx)
}

func (q quantityOnlyGrows) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	c, ok := update(ctx, req)
	if !ok {
		return
	}
	from, err1 := k8sresource.ParseQuantity(c.From.ValueString())
	to, err2 := k8sresource.ParseQuantity(c.To.ValueString())
	if err1 == nil && err2 == nil && to.Cmp(from) < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, q.m.Summary, q.m.Detail(c))
	}
}

// FixedUnlessReplaced rejects a change of the value unless one of the
// attributes at replacedBy changes too, which replaces the resource anyway.
func FixedUnlessReplaced(m Message, replacedBy ...path.Path) planmodifier.String {
	return fixedUnlessReplaced{m, replacedBy}
}

type fixedUnlessReplaced struct {
	m          Message
	replacedBy []path.Path
}

func (fixedUnlessReplaced) Description(context.Context) string {
	return "cannot change unless the resource is replaced"
}
func (f fixedUnlessReplaced) MarkdownDescription(ctx context.Context) string {
	return f.Description(ctx)
}

func (f fixedUnlessReplaced) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	c, ok := update(ctx, req)
	if !ok {
		return
	}
	for _, p := range f.replacedBy {
		var before, after types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, p, &before)...)
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, p, &after)...)
		if after.IsUnknown() || !after.Equal(before) {
			return
		}
	}
	resp.Diagnostics.AddAttributeError(req.Path, f.m.Summary, f.m.Detail(c))
}

// ReplaceNeedsFlag guards an attribute whose change replaces the resource
// and loses its data: refused unless the bool attribute flag was already
// true in state (so the flag was applied before, as destroy needs it), and
// a warning when it was.
func ReplaceNeedsFlag(flag path.Path, refuse, warn Message) planmodifier.String {
	return replaceNeedsFlag{flag, refuse, warn}
}

type replaceNeedsFlag struct {
	flag         path.Path
	refuse, warn Message
}

func (r replaceNeedsFlag) Description(context.Context) string {
	return "changing it replaces the resource, which needs " + r.flag.String() + " = true applied first"
}
func (r replaceNeedsFlag) MarkdownDescription(ctx context.Context) string {
	return r.Description(ctx)
}

func (r replaceNeedsFlag) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	c, ok := update(ctx, req)
	if !ok {
		return
	}
	var flag types.Bool
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, r.flag, &flag)...)
	if flag.ValueBool() {
		resp.Diagnostics.AddAttributeWarning(req.Path, r.warn.Summary, r.warn.Detail(c))
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, r.refuse.Summary, r.refuse.Detail(c))
}
