package faults_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Concurrent writers: someone else writes what we own, or a second state
// claims what the first manages.

// A field we own edited by another writer (kubectl edit, a controller, a
// script's client-go update) between two plans: the plan shows the drift
// at that one object, and apply heals it.
func TestFaultConcurrent_drift(t *testing.T) {
	t.Parallel()
	p := stack.Name("f-drift")
	w := acctest.NewTofu(t)
	w.Write(hclProject(t, p) + hclApp("a1", commit('a'), ""))
	cleanup(t, w)
	w.Apply()

	cs, _ := stack.Kube(t)
	ctx := context.Background()
	patch := []byte(`{"spec":{"ports":[{"name":"http","port":8080,"targetPort":9999}]}}`)
	if _, err := cs.CoreV1().Services(p).Patch(ctx, render.Service("a1"), types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	injected(1)
	out, changes := w.PlanChanges()
	if !changes {
		t.Fatalf("the plan does not show the edit:\n%s", out)
	}
	key := regexp.QuoteMeta("Service/" + p + "/" + render.Service("a1"))
	if !regexp.MustCompile(`~ "` + key + `"\s+= "drifted: [^"]*targetPort[^"]*" -> "`).MatchString(out) {
		t.Fatalf("the plan does not show the drift at %s:\n%s", key, out)
	}
	if n := strings.Count(out, `" -> "`); n != 1 {
		t.Fatalf("the plan changes %d entries, not just the edited object:\n%s", n, out)
	}
	converge(t, w, p)
	svc, err := cs.CoreV1().Services(p).Get(ctx, render.Service("a1"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Spec.Ports[0].TargetPort.String(); got == "9999" {
		t.Fatalf("apply did not heal the edit: targetPort %s", got)
	}
}

// Two configurations with separate states, one project: the second
// apply fails at the name, says the project is managed elsewhere and how
// to adopt it (import); nothing of the first is changed. Import is the
// explicit way, and works.
func TestFaultConcurrent_twoStates(t *testing.T) {
	t.Parallel()
	p := stack.Name("f-two")
	config := hclProject(t, p) + hclApp("a1", commit('a'), "") + hclDatabase("d1", "")
	first := acctest.NewTofu(t)
	first.Write(config)
	cleanup(t, first)
	first.Apply()
	live := ours(t, "", p)

	second := acctest.NewTofu(t)
	second.Write(strings.ReplaceAll(config, `port    = 8080`, `port    = 9090`))
	out, err := second.Run(applyArgs...)
	injected(1)
	if err == nil {
		t.Fatalf("a second state took the project over:\n%s", out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	if !regexp.MustCompile(`Already managed elsewhere.*Namespace/` + p + ` already exists: it was created by terraform-provider-idp at .* ` +
		`managed from another state.*Nothing was changed.*tofu import idp_project.<name> ` + p).MatchString(flat) {
		t.Fatalf("the error does not say the project is managed elsewhere and how to import it:\n%s", out)
	}
	if got := second.StateObjects(); len(got) != 0 {
		t.Fatalf("the refused apply saved %v in its state", got)
	}
	if out, changes := first.PlanChanges(); changes {
		t.Fatalf("the refused apply changed what the first state manages:\n%s", out)
	}
	if after := ours(t, "", p); strings.Join(after, ",") != strings.Join(live, ",") {
		t.Fatalf("the refused apply changed the cluster: before %v, after %v", live, after)
	}
	converged(0)

	// With the project imported, the application and the database are
	// still the first state's: each create refuses on its own.
	if out, err := second.Run("import", "-input=false", "-no-color", "idp_project.p", p); err != nil {
		t.Fatalf("tofu import failed: %v\n%s", err, out)
	}
	out, err = second.Run(applyArgs...)
	injected(1)
	flat = strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		`EventSource/` + p + `/` + render.EventSource(p, "a1") + ` already exists.*tofu import idp_application.<name> ` + p + `/a1`,
		`StatefulSet/` + p + `/` + render.DatabaseStatefulSet(p, "d1") + ` already exists.*tofu import idp_database.<name> ` + p + `/d1`,
	} {
		if err == nil || !regexp.MustCompile(want).MatchString(flat) {
			t.Fatalf("the error does not match %s:\n%s", want, out)
		}
	}
	if _, changes := first.PlanChanges(); changes {
		t.Fatal("the refused apply changed what the first state manages")
	}
	converged(0)
	// The imported project is now the second state's too; remove it from
	// there so that only the first state destroys it.
	if out, err := second.Run("state", "rm", "idp_project.p"); err != nil {
		t.Fatalf("tofu state rm failed: %v\n%s", err, out)
	}
}
