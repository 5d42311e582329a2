package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// defaultEventBusVolume holds a JetStream replica's stream store: events
// wait there only until their Sensor takes them.
const defaultEventBusVolume = "1Gi"

// eventBusTypeDefault fills an unset eventbus_type: JetStream for a new
// project; an existing one keeps its type (imported from the chart's
// native NATS bus, or a state from before the attribute, which rendered
// native NATS), so upgrading the provider or importing never swaps a bus.
type eventBusTypeDefault struct{}

func (eventBusTypeDefault) Description(context.Context) string {
	return "jetstream for a new project; an existing project keeps its type"
}
func (d eventBusTypeDefault) MarkdownDescription(ctx context.Context) string {
	return d.Description(ctx)
}

func (eventBusTypeDefault) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.Plan.Raw.IsNull() || !req.ConfigValue.IsNull() {
		return
	}
	switch {
	case req.State.Raw.IsNull():
		resp.PlanValue = types.StringValue(render.EventBusJetStream)
	case req.StateValue.IsNull() || req.StateValue.IsUnknown():
		resp.PlanValue = types.StringValue(render.EventBusNATS)
	default:
		resp.PlanValue = req.StateValue
	}
}

// eventBusType is the model's bus type; a state written before
// eventbus_type existed (null) ran native NATS.
func (m *projectModel) eventBusType() string {
	if m.EventBusType.IsNull() || m.EventBusType.ValueString() == "" {
		return render.EventBusNATS
	}
	return m.EventBusType.ValueString()
}

// normalizeEventBus fills what a state from before eventbus_type and
// eventbus_volume_size lacks with what that provider rendered, so refresh
// shows no change.
func (m *projectModel) normalizeEventBus() {
	if m.EventBusType.IsNull() {
		m.EventBusType = types.StringValue(render.EventBusNATS)
	}
	if m.EventBusVolumeSize.IsNull() {
		m.EventBusVolumeSize = types.StringValue(defaultEventBusVolume)
	}
}

// checkEventBusChange refuses, at plan, what the running bus cannot take
// and warns about a type change.
func checkEventBusChange(prior, plan *projectModel, diags *diag.Diagnostics) {
	if plan.EventBusType.IsUnknown() || plan.EventBusVolumeSize.IsUnknown() {
		return
	}
	from, to := prior.eventBusType(), plan.eventBusType()
	if from != to {
		diags.AddAttributeWarning(path.Root("eventbus_type"), "EventBus replaced",
			fmt.Sprintf("Apply deletes project %s's %s EventBus and creates a %s one of the same name, then restarts the "+
				"project's EventSources and Sensors on it. A push that arrives meanwhile (about a minute) may not be "+
				"built: redeliver its webhook or push again afterwards.", plan.Name.ValueString(), from, to))
		return
	}
	if to == render.EventBusJetStream && !prior.EventBusVolumeSize.IsNull() &&
		prior.EventBusVolumeSize.ValueString() != plan.EventBusVolumeSize.ValueString() {
		diags.AddAttributeError(path.Root("eventbus_volume_size"), "EventBus volume size cannot change",
			fmt.Sprintf("Project %s's JetStream EventBus has volumes of %s; a StatefulSet's claim template is immutable, so "+
				"Argo Events cannot change it to %s. Keep %s, or switch eventbus_type to nats and back in two applies "+
				"(each replaces the bus).", plan.Name.ValueString(), prior.EventBusVolumeSize.ValueString(),
				plan.EventBusVolumeSize.ValueString(), prior.EventBusVolumeSize.ValueString()))
	}
}

func eventBusRef(p string) engine.Ref {
	return toRef(render.EventBusID(p))
}

// eventBusFinalizer is the Argo Events controller's (v1.9
// reconciler/eventbus): it uninstalls the bus (for JetStream, deletes its
// claims) and refuses to while an EventSource or Sensor names the bus.
const eventBusFinalizer = "eventbus-controller"

// replaceEventBus deletes project p's EventBus of type from, so that the
// apply that follows makes one of the other type under the same name:
// Argo Events cannot change a bus's type in place (its admission webhook
// refuses, and its controller would leave the old StatefulSet running).
// Its controller holds back the deletion while the project's EventSources
// and Sensors name the bus, which they keep doing (the name does not
// change) and reconnectEvents then moves them: so the provider takes the
// finalizer off and deletes a JetStream bus's claims itself. The old
// StatefulSet and pods are gone (foreground) when it returns; the claims
// go once Kubernetes' pvc-protection sees no pod mounts them, which the
// apply does not wait for (the new bus does not use them).
func replaceEventBus(ctx context.Context, eng *engine.Engine, p, from string) error {
	if err := eng.DeleteReleasing(ctx, eventBusRef(p), eventBusFinalizer); err != nil {
		return err
	}
	if from != render.EventBusJetStream {
		return nil
	}
	ns := render.Namespace(p)
	claims, err := eng.List(ctx, "v1", "PersistentVolumeClaim", ns, "")
	if err != nil {
		return err
	}
	var refs []engine.Ref
	for _, c := range claims {
		if render.IsEventBusVolumeClaim(p, c.GetName()) {
			refs = append(refs, engine.RefOf(&c))
		}
	}
	return eng.RequestDelete(ctx, refs...)
}

// reconnectEvents moves project p's EventSources and Sensors to a new
// EventBus. The Argo Events controller gives their Deployments the bus's
// address and credentials when it makes them and does not watch the bus:
// once the new bus is deployed, deleting the Deployments makes the
// controller create them again with it.
func reconnectEvents(ctx context.Context, eng *engine.Engine, p string) error {
	err := eng.Wait(ctx, eventBusRef(p), func(bus *unstructured.Unstructured) (bool, string, error) {
		if bus == nil {
			return false, "it does not exist", nil
		}
		if deployed, pending := render.ParseEventBusPending(bus); !deployed {
			return false, "the Argo Events controller has not deployed it yet " + strings.Join(pending, "; "), nil
		}
		return true, "", nil
	})
	if err != nil {
		return err
	}
	ns := render.Namespace(p)
	var refs []engine.Ref
	for _, label := range []string{"eventsource-name", "sensor-name"} {
		deps, err := eng.List(ctx, "apps/v1", "Deployment", ns, label)
		if err != nil {
			return err
		}
		for _, d := range deps {
			refs = append(refs, engine.RefOf(&d))
		}
	}
	return eng.Delete(ctx, refs...)
}
