package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// A cluster bootstrapped in the same apply has none of the CRDs yet: an
// app-of-apps installs Argo Events, Argo Workflows and Traefik while tofu
// runs. This test runs against the stack's bare API server, which has none.
func TestAccBootstrap_crdsArriveDuringApply(t *testing.T) {
	bare := stack.BareKubeconfig(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	// The bare server runs no Argo Events controller, which an app-of-apps
	// would install: nothing would make the Sensor's and EventSource's pods.
	t.Setenv("IDP_WAIT_FOR_CI", "false")
	t.Setenv("KUBE_CONFIG_PATH", bare)
	t.Setenv("KUBECONFIG", bare)
	project := stack.Name("acc-boot")
	seedProjectVault(t, project)
	crds := stack.CRDs(t,
		"argo-events/argoproj.io_eventbus.yaml", "argo-events/argoproj.io_eventsources.yaml", "argo-events/argoproj.io_sensors.yaml",
		"argo-workflows/argoproj.io_workflowtemplates.yaml", "traefik/traefik.io_crds.yaml",
		stack.StackArgoCRD(t, "argoproj.io_cronworkflows.yaml"))
	cfg, err := clientcmd.BuildConfigFromFlags("", bare)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	// Leave the bare server bare for the next run.
	t.Cleanup(func() { _ = stack.DeleteCRDs(bare, crds) })

	// No commit yet, so no Deployment: the bare server runs no pods.
	config := func(createTimeout string) string {
		return appConfig(project, "api", `owner = "myorg", repo = "my-api", branch = "main"`, "") + fmt.Sprintf(`
# Both resources wait for the CRDs at most this long.
locals { create_timeout = %q }
`, createTimeout)
	}
	withTimeouts := func(createTimeout string) string {
		c := config(createTimeout)
		return regexp.MustCompile(`(resource "idp_(project|application)" "\w+" \{)`).
			ReplaceAllString(c, "$1\n  timeouts { create = local.create_timeout }")
	}
	var started time.Time

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Plan needs no CRD and no call to the cluster.
				Config:             withTimeouts("2m"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// The CRDs never arrive: apply fails within the timeout,
				// names the missing kinds, and writes nothing.
				PreConfig:   func() { started = time.Now() },
				Config:      withTimeouts("6s"),
				ExpectError: regexp.MustCompile(`(?s)EventBus \(argoproj\.io/v1alpha1\).*not served by the cluster\s+after\s+waiting`),
				Check:       nil,
			},
			{
				// The app-of-apps installs the CRDs 20 s into the apply: it
				// waits for them and succeeds.
				PreConfig: func() {
					if d := time.Since(started); d > 60*time.Second {
						t.Errorf("failing apply took %s, want about its 6s timeout", d)
					}
					if _, err := cs.CoreV1().Namespaces().Get(context.Background(), project, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						t.Errorf("the failed apply left namespace %s behind (err=%v)", project, err)
					}
					started = time.Now()
					go func() {
						time.Sleep(20 * time.Second)
						if err := stack.InstallCRDs(bare, crds); err != nil {
							t.Errorf("installing CRDs: %v", err)
						}
					}()
				},
				Config: withTimeouts("3m"),
				Check: func(*terraform.State) error {
					if d := time.Since(started); d < 20*time.Second {
						return fmt.Errorf("apply finished after %s, before the CRDs existed", d)
					}
					_, err := cs.CoreV1().ServiceAccounts(project).Get(context.Background(), render.WorkflowServiceAccount(project), metav1.GetOptions{})
					return err
				},
			},
		},
	})
}
