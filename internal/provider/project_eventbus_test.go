package provider_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// TestAccProject_eventBusImportKeepsNATS: a project whose EventBus the old
// chart made (native NATS) imports as "nats" and stays so, the bus
// untouched, while the configuration does not say otherwise; setting
// eventbus_type = "jetstream" replaces the bus under the same name, the
// old StatefulSet goes, the application's EventSource and Sensor
// Deployments move to the new bus, and back. On kwok: only objects matter
// here.
func TestAccProject_eventBusImportKeepsNATS(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	name := stack.Name("acc-bus")
	seedProjectVault(t, name)
	cs, dyn := stack.Kube(t)
	ctx := context.Background()
	var chartBus k8stypes.UID
	imported := func(extra string) string {
		return acctest.Config(fmt.Sprintf(`
import {
  to = idp_project.p
  id = %[1]q
}

resource "idp_project" "p" {
  name      = %[1]q
  isolation = false
%[2]s}
`, name, extra))
	}
	// An application, so that the switch has EventSource and Sensor
	// Deployments to move (kwok runs their pods).
	app := `
resource "idp_application" "app" {
  project = idp_project.p.name
  name    = "api"
  git     = { owner = "myorg", repo = "api", branch = "main" }
  port    = 8080
}
`
	busUID := func() k8stypes.UID {
		eb, err := dyn.Resource(eventBusGVR).Namespace(name).Get(ctx, render.EventBus(name), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return eb.GetUID()
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s still exists after destroy (err=%v)", name, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// The old chart's namespace and EventBus (shared/CONTRACT.md).
				PreConfig: func() {
					if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
					bus := &unstructured.Unstructured{Object: map[string]any{
						"apiVersion": "argoproj.io/v1alpha1", "kind": "EventBus",
						"metadata": map[string]any{"name": render.EventBus(name), "namespace": name},
						"spec": map[string]any{"nats": map[string]any{"native": map[string]any{
							"replicas": int64(3), "auth": "none", "antiAffinity": false,
						}}},
					}}
					created, err := dyn.Resource(eventBusGVR).Namespace(name).Create(ctx, bus, metav1.CreateOptions{FieldManager: "helm"})
					if err != nil {
						t.Fatal(err)
					}
					chartBus = created.GetUID()
				},
				Config: imported(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("idp_project.p", tfjsonpath.New("eventbus_type"), knownvalue.StringExact(render.EventBusNATS)),
				}},
				Check: func(*terraform.State) error {
					if uid := busUID(); uid != chartBus {
						return fmt.Errorf("the chart's EventBus was replaced (uid %s, was %s)", uid, chartBus)
					}
					return checkNativeEventBus(ctx, t, name, 3)
				},
			},
			{
				Config:           imported(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config: imported("") + app,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.p", plancheck.ResourceActionNoop),
				}},
				Check: func(*terraform.State) error { return checkEventsBus(ctx, t, name, "nats") },
			},
			{
				// The owner moves to JetStream: the bus is replaced, the
				// native StatefulSet goes with the old bus.
				Config: imported(`  eventbus_type = "jetstream"
`) + app,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.p", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if uid := busUID(); uid == chartBus {
						return fmt.Errorf("the EventBus was changed in place, not replaced")
					}
					if err := checkEventBusReplicas(ctx, t, name, 3); err != nil {
						return err
					}
					if err := checkEventsBus(ctx, t, name, "jetstream"); err != nil {
						return err
					}
					stan := render.EventBusStatefulSet(name, render.EventBusNATS)
					if _, err := cs.AppsV1().StatefulSets(name).Get(ctx, stan, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return fmt.Errorf("native NATS StatefulSet %s still exists (err=%v)", stan, err)
					}
					// The controller makes the JetStream StatefulSet, whose
					// pods (kwok) get claims: destroy must not take them
					// for the project's data.
					deadline := time.Now().Add(time.Minute)
					for {
						claims, err := cs.CoreV1().PersistentVolumeClaims(name).List(ctx, metav1.ListOptions{})
						if err != nil {
							return err
						}
						for _, c := range claims.Items {
							if render.IsEventBusVolumeClaim(name, c.Name) {
								return nil
							}
						}
						if time.Now().After(deadline) {
							return fmt.Errorf("no JetStream EventBus claim after a minute: %d claims", len(claims.Items))
						}
						time.Sleep(time.Second)
					}
				},
			},
			{
				// An existing JetStream bus's volumes cannot change.
				Config: imported(`  eventbus_type        = "jetstream"
  eventbus_volume_size = "2Gi"
`) + app,
				ExpectError: regexp.MustCompile(`(?s)eventbus_volume_size.*volumes of 1Gi`),
			},
			{
				// And back: the JetStream bus's claims go with it.
				Config: imported(`  eventbus_type = "nats"
`) + app,
				Check: func(*terraform.State) error {
					if err := checkNativeEventBus(ctx, t, name, 3); err != nil {
						return err
					}
					claims, err := cs.CoreV1().PersistentVolumeClaims(name).List(ctx, metav1.ListOptions{})
					if err != nil {
						return err
					}
					for _, c := range claims.Items {
						if render.IsEventBusVolumeClaim(name, c.Name) && c.DeletionTimestamp == nil {
							return fmt.Errorf("claim %s of the JetStream bus is left", c.Name)
						}
					}
					return checkEventsBus(ctx, t, name, "nats")
				},
			},
		},
	})
}

// checkEventsBus checks that the project's EventSource and Sensor
// Deployments (the Argo Events controller's) run on a bus whose config
// has key (the bus config's "nats" or "jetstream"), within a minute.
func checkEventsBus(ctx context.Context, t *testing.T, project, key string) error {
	cs, _ := stack.Kube(t)
	var why string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		why = ""
		for _, label := range []string{"eventsource-name", "sensor-name"} {
			deps, err := cs.AppsV1().Deployments(project).List(ctx, metav1.ListOptions{LabelSelector: label})
			if err != nil {
				return err
			}
			if len(deps.Items) == 0 {
				why += "no Deployment labelled " + label + "; "
			}
			for _, d := range deps.Items {
				var cfg map[string]any
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					if e.Name == "EVENTBUS_CONFIG" {
						b, _ := base64.StdEncoding.DecodeString(e.Value)
						_ = json.Unmarshal(b, &cfg)
					}
				}
				if cfg[key] == nil {
					why += fmt.Sprintf("Deployment %s runs on bus config %v; ", d.Name, cfg)
				}
			}
		}
		if why == "" {
			return nil
		}
	}
	return fmt.Errorf("EventSource and Sensor not on the %s bus after a minute: %s", key, why)
}
