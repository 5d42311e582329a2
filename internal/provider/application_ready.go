package provider

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// An application's CI listens once its Sensor and EventSource run and
// GitHub has the push webhook. None of that is in the objects we apply:
// the Argo Events controller makes a Deployment for each EventSource and
// Sensor, and the EventSource's pod registers the hook when it starts. So
// the apply waits for it (provider setting wait_for_ci), at most
// ciReadyTimeout and within the resource's timeouts. A ready application
// passes at once: a few reads.

// ciReadyTimeout bounds the whole wait: Sensor, EventSource and hook.
const ciReadyTimeout = 2 * time.Minute

// eventsPollInterval paces the look for the controller's Deployment.
const eventsPollInterval = 500 * time.Millisecond

// waitEvents waits until the Deployment the Argo Events controller runs
// desired (an applied EventSource or Sensor) in runs its current spec and
// has a ready pod. It fails saying which part is missing and what to check.
func waitEvents(ctx context.Context, eng *engine.Engine, desired *unstructured.Unstructured) error {
	kind, ns, name := desired.GetKind(), desired.GetNamespace(), desired.GetName()
	check := fmt.Sprintf("kubectl -n %s describe %s %s; kubectl -n %s describe pods -l %s",
		ns, kind, name, ns, render.EventsDeploymentSelector(kind, name))
	dep, err := findEventsDeployment(ctx, eng, desired)
	if err != nil {
		return fmt.Errorf("%s pod not ready: %w. Check that the Argo Events controller runs (%s)", kind, err, check)
	}
	err = eng.WaitPods(ctx, dep, func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "it was deleted", nil
		}
		if why := render.EventsDeploymentStale(obj, desired); why != "" {
			return false, why, nil
		}
		return engine.RolloutComplete(obj)
	})
	if err != nil {
		return fmt.Errorf("%s pod not ready: %w (%s)", kind, err, check)
	}
	return nil
}

// findEventsDeployment returns the Deployment the controller made for the
// live object desired names: labelled with its name and controlled by it
// (not one left from a deleted object of the same name).
func findEventsDeployment(ctx context.Context, eng *engine.Engine, desired *unstructured.Unstructured) (engine.Ref, error) {
	kind, ns, name := desired.GetKind(), desired.GetNamespace(), desired.GetName()
	var live *unstructured.Unstructured
	timedOut := func() error {
		why := "the Argo Events controller has not made its Deployment"
		if f := render.EventsDeployFailure(live); f != "" {
			why += "; its status says " + f
		}
		return fmt.Errorf("timed out waiting for %s/%s/%s: %s", kind, ns, name, why)
	}
	for {
		var err error
		if live, err = eng.Get(ctx, engine.RefOf(desired)); err != nil {
			if ctx.Err() != nil {
				return engine.Ref{}, timedOut()
			}
			return engine.Ref{}, err
		}
		if live != nil {
			deps, err := eng.List(ctx, "apps/v1", "Deployment", ns, render.EventsDeploymentSelector(kind, name))
			if err != nil {
				if ctx.Err() != nil {
					return engine.Ref{}, timedOut()
				}
				return engine.Ref{}, err
			}
			for i := range deps {
				if controlledBy(&deps[i], live.GetUID()) {
					return engine.RefOf(&deps[i]), nil
				}
			}
		}
		if !engine.Sleep(ctx, eventsPollInterval) {
			return engine.Ref{}, timedOut()
		}
	}
}

func controlledBy(obj *unstructured.Unstructured, uid types.UID) bool {
	for _, o := range obj.GetOwnerReferences() {
		if o.UID == uid && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}
