package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// An unset eventbus_type is JetStream only for a new project: an imported
// project, and a state from before the attribute (null: that provider
// rendered native NATS), keep their bus.
func TestEventBusTypeDefault(t *testing.T) {
	present := tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{}}, map[string]tftypes.Value{})
	absent := tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{}}, nil)
	for _, c := range []struct {
		name          string
		state         tftypes.Value
		stateVal, cfg types.String
		want          string
	}{
		{"new project", absent, types.StringNull(), types.StringNull(), render.EventBusJetStream},
		{"imported nats", present, types.StringValue("nats"), types.StringNull(), render.EventBusNATS},
		{"existing jetstream", present, types.StringValue("jetstream"), types.StringNull(), render.EventBusJetStream},
		{"state from before the attribute", present, types.StringNull(), types.StringNull(), render.EventBusNATS},
		{"set", present, types.StringValue("nats"), types.StringValue("jetstream"), render.EventBusJetStream},
	} {
		req := planmodifier.StringRequest{
			State: tfsdk.State{Raw: c.state}, Plan: tfsdk.Plan{Raw: present},
			StateValue: c.stateVal, ConfigValue: c.cfg, PlanValue: types.StringUnknown(),
		}
		if !c.cfg.IsNull() {
			req.PlanValue = c.cfg
		}
		resp := &planmodifier.StringResponse{PlanValue: req.PlanValue}
		eventBusTypeDefault{}.PlanModifyString(context.Background(), req, resp)
		if got := resp.PlanValue.ValueString(); got != c.want {
			t.Errorf("%s: planned %q, want %q", c.name, got, c.want)
		}
	}
}
