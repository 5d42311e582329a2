package provider_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Pushes that are not a new head of the branch start nothing: a tag, and
// the branch's deletion (GitHub's push with deleted: true and after
// 0000…, whose run could only fail and become the last build). A force
// push deploys the new head. Runs through the real Sensor on the real node.
func TestAccE2E_forcePushTagAndDeletion(t *testing.T) {
	owner, repo := "acme", "events"
	stack.RealNode(t)
	gh := acctest.NewGitHubOn(t, stack.HostIP())
	project := stack.Name("e2ev")
	gh.AddRepo(owner, repo, true)
	// trunk is the default branch (GitHub refuses to delete the default);
	// the application follows main.
	trunk, err := gh.Push(owner, repo, "trunk", stack.TestAppFiles(t, "trunk"), "trunk")
	if err != nil {
		t.Fatal(err)
	}
	shaA, err := gh.Push(owner, repo, "main", stack.TestAppFiles(t, "A"), "A")
	if err != nil {
		t.Fatal(err)
	}
	e2eEnv(t, gh, project)
	ns, domain := render.Namespace(project), e2eDomain(project, "app")
	config := e2eAppConfig(project, owner, repo, true)
	var shaB string

	acctest.Test(t, resource.TestCase{
		PreCheck:                 func() { stack.RealNode(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// build_on_create deploys A; the EventSource registers
				// GitHub's hook, so later pushes are delivered.
				Config: config,
				Check: func(*terraform.State) error {
					start := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
					defer cancel()
					if _, err := gh.WaitHook(ctx, owner, repo); err != nil {
						dumpNamespace(t, ns)
						return err
					}
					waitServing(t, ns, domain, "A", start)
					return nil
				},
			},
			{
				// A tag at A, then a force push of B (its parent is trunk,
				// not A): only B runs, and it is served. Then main is
				// deleted: no run starts, B keeps serving, and last_build
				// still names B's run.
				PreConfig: func() {
					start := time.Now()
					if err := gh.PushTag(owner, repo, "v1", shaA); err != nil {
						t.Fatal(err)
					}
					pushAccepted(t, gh, `"ref":"refs/tags/v1"`)
					shaB, err = gh.PushWith(owner, repo, "main", stack.TestAppFiles(t, "B"), "B", acctest.PushOptions{Parent: trunk})
					if err != nil {
						t.Fatal(err)
					}
					if d := pushAccepted(t, gh, `"after":"`+shaB+`"`); !strings.Contains(string(d.Body), `"forced":true`) {
						t.Fatalf("the stand-in did not force-push B: %s", d.Body)
					}
					waitServing(t, ns, domain, "B", start)
					waitBuild(t, ns, shaB, "Succeeded") // B serves before its record step ends
					t.Logf("tag and force push -> B serving: %s", time.Since(start).Round(time.Second))
					if got, want := runCommits(t, ns), []string{shaA, shaB}; strings.Join(got, " ") != strings.Join(want, " ") {
						t.Fatalf("runs for commits %v, want A's (build on create) and B's only: the tag started a run", got)
					}

					if err := gh.DeleteBranch(owner, repo, "main"); err != nil {
						t.Fatal(err)
					}
					pushAccepted(t, gh, `"deleted":true`)
					// The Sensor triggers within a second of the delivery.
					time.Sleep(10 * time.Second)
					if got := runCommits(t, ns); len(got) != 2 {
						t.Fatalf("runs for commits %v after the deletion of main, want A's and B's only", got)
					}
					if got, err := stack.Serving(context.Background(), domain); got != "B" {
						t.Fatalf("after the deletion of main %s serves %q (err %v), want B", domain, got, err)
					}
				},
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					deployedHash("app", &shaB),
					lateCheck(func() statecheck.StateCheck {
						return statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("last_build"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"commit": knownvalue.StringExact(shaB), "phase": knownvalue.StringExact("Succeeded"),
						}))
					}),
				},
			},
		},
	})
}

// pushAccepted returns the last push delivery whose body contains marker,
// failing unless the EventSource accepted it (HTTP 200).
func pushAccepted(t *testing.T, gh *acctest.GitHub, marker string) acctest.Delivery {
	t.Helper()
	ds := gh.Deliveries()
	for i := len(ds) - 1; i >= 0; i-- {
		if d := ds[i]; d.Event == "push" && strings.Contains(string(d.Body), marker) {
			if d.StatusCode != http.StatusOK {
				t.Fatalf("push %s answered %d (%v): %s", marker, d.StatusCode, d.Err, d.Response)
			}
			return d
		}
	}
	t.Fatalf("no push delivery with %s", marker)
	return acctest.Delivery{}
}

// runCommits lists the commits of application app's runs, oldest first.
func runCommits(t *testing.T, ns string) []string {
	t.Helper()
	_, dyn := stack.Kube(t)
	l, err := dyn.Resource(workflowGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: render.LabelApplication + "=app"})
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(l.Items, func(i, j int) bool {
		return l.Items[i].GetCreationTimestamp().Time.Before(l.Items[j].GetCreationTimestamp().Time)
	})
	var out []string
	for i := range l.Items {
		out = append(out, render.ParseBuild(&l.Items[i]).Commit)
	}
	return out
}
