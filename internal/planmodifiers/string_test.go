package planmodifiers

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

var testSchema = schema.Schema{Attributes: map[string]schema.Attribute{
	"id":          schema.StringAttribute{Computed: true},
	"name":        schema.StringAttribute{Required: true},
	"value":       schema.StringAttribute{Optional: true},
	"delete_data": schema.BoolAttribute{Optional: true},
}}

type obj struct {
	name, value any // string, nil (null) or tftypes.UnknownValue
	deleteData  bool
}

func (o *obj) raw() tftypes.Value {
	typ := testSchema.Type().TerraformType(context.Background())
	if o == nil {
		return tftypes.NewValue(typ, nil)
	}
	return tftypes.NewValue(typ, map[string]tftypes.Value{
		"id":          tftypes.NewValue(tftypes.String, "p/d"),
		"name":        tftypes.NewValue(tftypes.String, o.name),
		"value":       tftypes.NewValue(tftypes.String, o.value),
		"delete_data": tftypes.NewValue(tftypes.Bool, o.deleteData),
	})
}

var msg = Message{Summary: "S", Detail: func(c Change) string {
	return c.ID + ": " + c.From.String() + " -> " + c.To.String()
}}
var warnMsg = Message{Summary: "W", Detail: msg.Detail}

// run applies m to "value" going from state to plan and returns the
// diagnostics.
func run(t *testing.T, m planmodifier.String, state, plan *obj) diag.Diagnostics {
	t.Helper()
	ctx := context.Background()
	req := planmodifier.StringRequest{
		Path:  path.Root("value"),
		State: tfsdk.State{Schema: testSchema, Raw: state.raw()},
		Plan:  tfsdk.Plan{Schema: testSchema, Raw: plan.raw()},
	}
	if state != nil {
		req.State.GetAttribute(ctx, path.Root("value"), &req.StateValue)
	}
	if plan != nil {
		req.Plan.GetAttribute(ctx, path.Root("value"), &req.PlanValue)
	}
	resp := &planmodifier.StringResponse{PlanValue: req.PlanValue}
	m.PlanModifyString(ctx, req, resp)
	return resp.Diagnostics
}

func expect(t *testing.T, d diag.Diagnostics, severity, text string) {
	t.Helper()
	if severity == "" {
		if len(d) > 0 {
			t.Errorf("want no diagnostics, got %v", d)
		}
		return
	}
	if len(d) != 1 || d[0].Severity().String() != severity || !strings.Contains(d[0].Detail(), text) {
		t.Errorf("want one %s containing %q, got %v", severity, text, d)
		return
	}
	if wp, ok := d[0].(diag.DiagnosticWithPath); !ok || !wp.Path().Equal(path.Root("value")) {
		t.Errorf("diagnostic is not at the attribute: %v", d[0])
	}
}

func TestQuantityOnlyGrows(t *testing.T) {
	m := QuantityOnlyGrows(msg)
	expect(t, run(t, m, &obj{name: "a", value: "1Gi"}, &obj{name: "a", value: "512Mi"}), "Error", `p/d: "1Gi" -> "512Mi"`)
	expect(t, run(t, m, &obj{name: "a", value: "1Gi"}, &obj{name: "a", value: "1024Mi"}), "", "") // same quantity
	expect(t, run(t, m, &obj{name: "a", value: "1Gi"}, &obj{name: "a", value: "2Gi"}), "", "")
	expect(t, run(t, m, nil, &obj{name: "a", value: "1Gi"}), "", "")                                          // create
	expect(t, run(t, m, &obj{name: "a", value: "1Gi"}, nil), "", "")                                          // destroy
	expect(t, run(t, m, &obj{name: "a", value: "1Gi"}, &obj{name: "a", value: tftypes.UnknownValue}), "", "") // unknown
}

func TestFixedUnlessReplaced(t *testing.T) {
	m := FixedUnlessReplaced(msg, path.Root("name"))
	expect(t, run(t, m, &obj{name: "a", value: "fast"}, &obj{name: "a", value: "slow"}), "Error", `"fast" -> "slow"`)
	expect(t, run(t, m, &obj{name: "a", value: "fast"}, &obj{name: "a", value: nil}), "Error", `"fast" -> <null>`)
	expect(t, run(t, m, &obj{name: "a", value: nil}, &obj{name: "a", value: ""}), "Error", `<null> -> ""`)
	expect(t, run(t, m, &obj{name: "a", value: "fast"}, &obj{name: "b", value: "slow"}), "", "")                  // replaced anyway
	expect(t, run(t, m, &obj{name: "a", value: "fast"}, &obj{name: tftypes.UnknownValue, value: "slow"}), "", "") // may be replaced
	expect(t, run(t, m, &obj{name: "a", value: "fast"}, &obj{name: "a", value: "fast"}), "", "")
	expect(t, run(t, m, nil, &obj{name: "a", value: "fast"}), "", "")
}

func TestReplaceNeedsFlag(t *testing.T) {
	m := ReplaceNeedsFlag(path.Root("delete_data"), msg, warnMsg)
	expect(t, run(t, m, &obj{name: "a", value: "mysql"}, &obj{name: "a", value: "postgres", deleteData: true}), "Error", `"mysql" -> "postgres"`)
	expect(t, run(t, m, &obj{name: "a", value: "mysql", deleteData: true}, &obj{name: "a", value: "postgres", deleteData: true}), "Warning", `"mysql" -> "postgres"`)
	expect(t, run(t, m, &obj{name: "a", value: "mysql"}, &obj{name: "a", value: "mysql"}), "", "")
	expect(t, run(t, m, nil, &obj{name: "a", value: "mysql"}), "", "")
}
