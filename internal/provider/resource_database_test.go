package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// The stack's provisioner serves its default StorageClass: claims without
// a class bind to a volume it provisions, grow when their request does and
// lose their volume when deleted. Tests that need a claim to stay unbound
// use a class of their own that nothing provisions (dbEnv.unprovisioned).
const defaultClass = "standard"

// dbEnv is one database test: a namespace standing in for the project
// (idp_project's own tests cover it) and the database's name.
type dbEnv struct {
	t       *testing.T
	cs      *kubernetes.Clientset
	project string
	name    string
}

func newDBEnv(t *testing.T, name string) *dbEnv {
	t.Helper()
	stack.PreCheck(t)
	cs, _ := stack.Kube(t)
	e := &dbEnv{t: t, cs: cs, project: stack.Name("acc-db"), name: name}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.project}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), e.project, metav1.DeleteOptions{})
		kv, _ := stack.Vault(t)
		_ = kv.DeleteMetadata(context.Background(), e.vaultPath())
	})
	return e
}

func (e *dbEnv) ctx() context.Context { return context.Background() }

func (e *dbEnv) config(typ, version, size, extra string) string {
	return acctest.Config(fmt.Sprintf(`
resource "idp_database" "test" {
  project = %q
  name    = %q
  type    = %q
  version = %q
  size    = %q
%s
}
`, e.project, e.name, typ, version, size, extra))
}

func (e *dbEnv) vaultPath() string  { return render.DatabaseVaultPath(e.project, e.name) }
func (e *dbEnv) claimName() string  { return render.DatabaseClaim(e.project, e.name, 0) }
func (e *dbEnv) stsName() string    { return render.DatabaseStatefulSet(e.project, e.name) }
func (e *dbEnv) secretName() string { return render.DatabaseSecret(e.project, e.name) }
func (e *dbEnv) secretKey() string  { return "Secret/" + e.project + "/" + e.secretName() }
func (e *dbEnv) stsKey() string     { return "StatefulSet/" + e.project + "/" + e.stsName() }
func (e *dbEnv) importID() string   { return e.project + "/" + e.name }
func (e *dbEnv) fullVaultPath() string {
	_, mount := stack.Vault(e.t)
	return mount + "/" + e.vaultPath()
}

// unprovisioned creates a StorageClass for this test that no provisioner
// serves: its claims stay Pending until volume makes one by hand.
func (e *dbEnv) unprovisioned() string {
	e.t.Helper()
	name := e.project + "-none"
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name},
		Provisioner:       "idpkit.io/none",
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimRetain),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
	if _, err := e.cs.StorageV1().StorageClasses().Create(e.ctx(), sc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = e.cs.StorageV1().StorageClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// volume creates, by hand, a PersistentVolume of class bound in advance to
// the database's claim, so its pod schedules (kwok then makes it Ready).
func (e *dbEnv) volume(class, size string) {
	e.t.Helper()
	name := e.project + "-manual"
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: k8sresource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			ClaimRef:                      &corev1.ObjectReference{Namespace: e.project, Name: e.claimName()},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
	if _, err := e.cs.CoreV1().PersistentVolumes().Create(e.ctx(), pv, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = e.cs.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// checkVolume asserts that the database's claim asks for templateClass
// in the StatefulSet's claim template (nil: none, the default class), is
// Bound in class claimClass, and that the volume it is bound to holds it;
// it returns the volume's name through pv, if given.
func (e *dbEnv) checkVolume(templateClass *string, claimClass string, pv *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sts, err := e.statefulSet()
		if err != nil {
			return err
		}
		if got := sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; !reflect.DeepEqual(got, templateClass) {
			return fmt.Errorf("claim template storageClassName = %v, want %v", ptr.Deref(got, "<nil>"), ptr.Deref(templateClass, "<nil>"))
		}
		c, err := e.claim()
		if err != nil {
			return err
		}
		if c.Status.Phase != corev1.ClaimBound || ptr.Deref(c.Spec.StorageClassName, "") != claimClass {
			return fmt.Errorf("claim %s is %s in class %q, want Bound in %q", c.Name, c.Status.Phase, ptr.Deref(c.Spec.StorageClassName, ""), claimClass)
		}
		v, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx(), c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if v.Status.Phase != corev1.VolumeBound || v.Spec.ClaimRef == nil || v.Spec.ClaimRef.UID != c.UID {
			return fmt.Errorf("volume %s is %s, claimed by %+v, not by claim %s", v.Name, v.Status.Phase, v.Spec.ClaimRef, c.Name)
		}
		if pv != nil {
			*pv = v.Name
		}
		return nil
	}
}

// eventually retries check for up to 30s: the provisioner works in the
// background, once a second.
func eventually(check func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkExpanded asserts that the claim asks for size and that the
// provisioner expanded its volume to it (the claim's status.capacity).
func (e *dbEnv) checkExpanded(size string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		want := k8sresource.MustParse(size)
		return eventually(func() error {
			c, err := e.claim()
			if err != nil {
				return err
			}
			if got := c.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(want) != 0 {
				return fmt.Errorf("claim requests %s, want %s", got.String(), size)
			}
			if got := c.Status.Capacity[corev1.ResourceStorage]; got.Cmp(want) != 0 {
				return fmt.Errorf("claim capacity is %s, want %s (not expanded)", got.String(), size)
			}
			v, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx(), c.Spec.VolumeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := v.Spec.Capacity[corev1.ResourceStorage]; got.Cmp(want) != 0 {
				return fmt.Errorf("volume %s has %s, want %s", v.Name, got.String(), size)
			}
			return nil
		})
	}
}

// volumeGone waits for the provisioner to delete the released volume pv.
func (e *dbEnv) volumeGone(pv string) error {
	return eventually(func() error {
		v, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx(), pv, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("volume %s of the deleted claim is still there (%s)", pv, v.Status.Phase)
	})
}

// vault returns the password and version in Vault ("" and 0 if none).
func (e *dbEnv) vault() (string, int) {
	e.t.Helper()
	kv, _ := stack.Vault(e.t)
	s, err := kv.Get(e.ctx(), e.vaultPath())
	if err != nil || s == nil || s.VersionMetadata == nil {
		return "", 0
	}
	pw, _ := s.Data["password"].(string)
	return pw, s.VersionMetadata.Version
}

func (e *dbEnv) statefulSet() (*appsv1.StatefulSet, error) {
	return e.cs.AppsV1().StatefulSets(e.project).Get(e.ctx(), e.stsName(), metav1.GetOptions{})
}

func (e *dbEnv) claim() (*corev1.PersistentVolumeClaim, error) {
	return e.cs.CoreV1().PersistentVolumeClaims(e.project).Get(e.ctx(), e.claimName(), metav1.GetOptions{})
}

// checkVaultVersion asserts that the password was neither generated again
// nor overwritten.
func (e *dbEnv) checkVaultVersion(want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if _, v := e.vault(); v != want {
			return fmt.Errorf("Vault %s is at version %d, want %d: the password was written again", e.vaultPath(), v, want)
		}
		return nil
	}
}

// checkNoPassword fails if the current Vault password, or an earlier one
// (read when the check runs), is in the state.
func (e *dbEnv) checkNoPassword(earlier ...*string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		pw, _ := e.vault()
		secrets := []string{pw}
		for _, p := range earlier {
			secrets = append(secrets, *p)
		}
		for i, sec := range secrets {
			if len(sec) < 8 {
				return fmt.Errorf("checkNoPassword: secret %d is too short to look for", i)
			}
		}
		return checkNoSecretInState(secrets...)(s)
	}
}

// noSecretInPlan fails if the plan JSON holds the current Vault password.
type noSecretInPlan struct{ e *dbEnv }

func (c noSecretInPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	pw, _ := c.e.vault()
	b, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	if pw == "" || strings.Contains(string(b), pw) {
		resp.Error = fmt.Errorf("the plan JSON holds the database password (or Vault has none)")
	}
}

// dbEnvWant is what a type's container must get, as the contract spells
// it; "<secret>" is a value from the database's Secret.
func dbEnvWant(typ, d string) map[string]string {
	return map[string]map[string]string{
		"mysql": {"MYSQL_DATABASE": d + "_db", "MYSQL_USER": d + "_user", "MYSQL_PASSWORD": "<secret>", "MYSQL_ROOT_PASSWORD": "<secret>"},
		"postgres": {"POSTGRES_DB": d + "_db", "POSTGRES_USER": d + "_user", "POSTGRES_PASSWORD": "<secret>",
			"PGDATA": "/var/lib/postgresql/data/pgdata"},
		"redis":   {"REDIS_PASSWORD": "<secret>"},
		"mongodb": {"MONGO_INITDB_ROOT_USERNAME": d + "_user", "MONGO_INITDB_ROOT_PASSWORD": "<secret>"},
	}[typ]
}

var dbMountWant = map[string]string{
	"mysql": "/var/lib/mysql", "postgres": "/var/lib/postgresql/data", "redis": "/data", "mongodb": "/data/db",
}

// checkLive asserts on the live objects by contract name, and that the
// StatefulSet rolled out.
func (e *dbEnv) checkLive(typ, image, size string, port int32) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sts, err := e.statefulSet()
		if err != nil {
			return err
		}
		app := e.stsName()
		if sts.Spec.ServiceName != e.name || sts.Spec.Selector.MatchLabels["app"] != app || sts.Labels["app"] != app ||
			sts.Spec.Template.Labels["app"] != app || sts.Labels[render.LabelManagedBy] != render.ManagedBy {
			return fmt.Errorf("StatefulSet %s: serviceName %q, selector %v, labels %v, template labels %v",
				app, sts.Spec.ServiceName, sts.Spec.Selector.MatchLabels, sts.Labels, sts.Spec.Template.Labels)
		}
		if sts.Status.ReadyReplicas != 1 || sts.Status.ObservedGeneration < sts.Generation {
			return fmt.Errorf("StatefulSet %s not rolled out: %+v", app, sts.Status)
		}
		c := sts.Spec.Template.Spec.Containers[0]
		if c.Name != e.name || c.Image != image || len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
			return fmt.Errorf("container %s image %s ports %v, want %s %s port %d", c.Name, c.Image, c.Ports, e.name, image, port)
		}
		vct := sts.Spec.VolumeClaimTemplates
		if len(vct) != 1 || vct[0].Name != render.DatabaseVolume(e.project, e.name) ||
			vct[0].Spec.AccessModes[0] != corev1.ReadWriteOnce || vct[0].Spec.Resources.Requests.Storage().String() != size {
			return fmt.Errorf("volumeClaimTemplates = %+v", vct)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != vct[0].Name || c.VolumeMounts[0].MountPath != dbMountWant[typ] {
			return fmt.Errorf("volume mounts %+v, want %s at %s", c.VolumeMounts, vct[0].Name, dbMountWant[typ])
		}
		got := map[string]string{}
		for _, ev := range c.Env {
			got[ev.Name] = ev.Value
			if ref := ev.ValueFrom; ref != nil && ref.SecretKeyRef != nil && ref.SecretKeyRef.Name == e.secretName() && ref.SecretKeyRef.Key == "password" {
				got[ev.Name] = "<secret>"
			}
		}
		if want := dbEnvWant(typ, e.name); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("env = %v, want %v", got, want)
		}
		if typ == "redis" && strings.Join(c.Args, " ") != "--requirepass $(REDIS_PASSWORD)" {
			return fmt.Errorf("redis args = %q", c.Args)
		}

		svc, err := e.cs.CoreV1().Services(e.project).Get(e.ctx(), e.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if svc.Spec.Selector["app"] != app || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port || svc.Spec.Ports[0].TargetPort.IntVal != port {
			return fmt.Errorf("Service %s: selector %v ports %+v", e.name, svc.Spec.Selector, svc.Spec.Ports)
		}

		sec, err := e.cs.CoreV1().Secrets(e.project).Get(e.ctx(), e.secretName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		pw, version := e.vault()
		if string(sec.Data["password"]) != pw || sec.Annotations[render.AnnotationVaultPath] != e.fullVaultPath() ||
			sec.Annotations[render.AnnotationVaultVersion] != fmt.Sprint(version) {
			return fmt.Errorf("Secret %s does not hold Vault version %d (annotations %v)", e.secretName(), version, sec.Annotations)
		}
		// The pods restart when the password changes.
		if got := sts.Spec.Template.Annotations[render.AnnotationVaultVersion]; got != fmt.Sprint(version) {
			return fmt.Errorf("pod template has Vault version %q, want %d", got, version)
		}
		pod, err := e.cs.CoreV1().Pods(e.project).Get(e.ctx(), render.DatabasePod(e.project, e.name, 0), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := pod.Annotations[render.AnnotationVaultVersion]; got != fmt.Sprint(version) || pod.Spec.Containers[0].Image != image {
			return fmt.Errorf("pod %s runs %s with Vault version %q, want %s and %d", pod.Name, pod.Spec.Containers[0].Image, got, image, version)
		}
		return nil
	}
}

// TestAccDatabase_types creates one database of each type: objects, env
// and mount path as the contract says, Ready pods, outputs, an empty plan
// after apply, and no password in state or plan.
func TestAccDatabase_types(t *testing.T) {
	for _, c := range []struct {
		typ, version, user, db string
		port                   int64
	}{
		{"mysql", "8.0", "orders_user", "orders_db", 3306},
		{"postgres", "16", "orders_user", "orders_db", 5432},
		{"redis", "7.4", "default", "0", 6379},
		{"mongodb", "7.0", "orders_user", "orders_db", 27017},
	} {
		t.Run(c.typ, func(t *testing.T) {
			e := newDBEnv(t, "orders")
			preexisting := ""
			if c.typ == "redis" {
				// An existing installation: Vault already has the password.
				preexisting = "existing-" + stack.Name("pw")
				acctest.PutVault(t, e.vaultPath(), map[string]any{"password": preexisting})
			}
			image := render.DatabaseTypes[c.typ].Image + ":" + c.version
			acctest.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config: e.config(c.typ, c.version, "1Gi", ""),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionCreate),
							// Every object and output is known before anything exists.
							plancheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("objects").AtMapKey(e.stsKey()),
								knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{12}$`))),
							plancheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("host"), knownvalue.StringExact("orders."+e.project+".svc.cluster.local")),
							plancheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("port"), knownvalue.Int64Exact(c.port)),
							plancheck.ExpectUnknownValue("idp_database.test", tfjsonpath.New("password_version")),
						},
						PostApplyPostRefresh: []plancheck.PlanCheck{noSecretInPlan{e}},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("id"), knownvalue.StringExact(e.importID())),
						statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("username"), knownvalue.StringExact(c.user)),
						statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("database"), knownvalue.StringExact(c.db)),
						statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("password_vault_path"), knownvalue.StringExact(e.vaultPath())),
						statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("password_version"), knownvalue.Int64Exact(1)),
						statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("objects"), knownvalue.MapSizeExact(3)),
					},
					Check: resource.ComposeTestCheckFunc(
						e.checkLive(c.typ, image, "1Gi", int32(c.port)),
						// No storage_class: the default class provisioned the volume.
						e.checkVolume(nil, defaultClass, nil),
						e.checkVaultVersion(1),
						e.checkNoPassword(),
						func(*terraform.State) error {
							pw, _ := e.vault()
							if preexisting != "" && pw != preexisting {
								return fmt.Errorf("the password already in Vault was not used")
							}
							if preexisting == "" && !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(pw) {
								return fmt.Errorf("generated password is not 32 letters and digits")
							}
							return nil
						},
					),
				}},
			})
		})
	}
}

// TestAccDatabase_lifecycle walks one database through everything that
// must not lose data: a failed create and its retry, a version roll, a
// rotation in Vault, import, refused shrink and type change, destroy and
// re-create (same volume and password), then delete_data and a replacement.
func TestAccDatabase_lifecycle(t *testing.T) {
	e := newDBEnv(t, "orders")
	// A class nothing provisions: the first create cannot finish until a
	// volume is made by hand; the class itself can never change.
	class := e.unprovisioned()
	withClass := fmt.Sprintf("  storage_class = %q\n", class)
	var stsUID, claimUID types.UID
	var firstPassword, manualPV, replacementPV string
	rotated := "rotated-" + stack.Name("pw")
	cfg := func(version, extra string) string { return e.config("mysql", version, "1Gi", withClass+extra) }

	acctest.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := e.claim(); !apierrors.IsNotFound(err) {
				return fmt.Errorf("claim %s still exists after destroy with delete_data (err=%v)", e.claimName(), err)
			}
			if pw, _ := e.vault(); pw != "" {
				return fmt.Errorf("password still in Vault after destroy with delete_data")
			}
			// Its class deletes the released volume.
			return e.volumeGone(replacementPV)
		},
		Steps: []resource.TestStep{
			{
				// No volume yet: the pod cannot schedule and create times out,
				// saying why. The password is already in Vault.
				Config: cfg("8.0", `  timeouts {
    create = "4s"
  }`),
				ExpectError: regexp.MustCompile(`(?s)Database did not become ready.*timed out waiting for\s+StatefulSet.*0\s+of\s+1\s+replicas\s+ready;\s+pod\s+` +
					regexp.QuoteMeta(e.stsName()) + `-0:\s+Pending,\s+not\s+scheduled:.*unbound`),
			},
			{
				// The StatefulSet left behind keeps its claim template: a retry
				// with another class is refused before anything is written.
				Config: e.config("mysql", "8.0", "1Gi", ""),
				ExpectError: wordsRegexp(`Existing StatefulSet has another storage class`, `StatefulSet `+e.stsName()+` already exists with storage class "`+class+`"`,
					`storage_class is the cluster's default (unset)`, `Set storage_class to match (storage_class = "`+class+`")`),
			},
			{
				// The retry is a plain create again (nothing was saved, nothing
				// is tainted) and keeps the password of the failed attempt.
				PreConfig: func() {
					if firstPassword, _ = e.vault(); firstPassword == "" {
						t.Fatal("the failed create stored no password in Vault")
					}
					e.volume(class, "1Gi")
				},
				Config: cfg("8.0", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("storage_class"), knownvalue.StringExact(class)),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkLive("mysql", "mysql:8.0", "1Gi", 3306),
					e.checkVolume(&class, class, &manualPV),
					e.checkVaultVersion(1),
					e.checkNoPassword(),
					func(*terraform.State) error {
						sts, err := e.statefulSet()
						if err != nil {
							return err
						}
						c, err := e.claim()
						if err != nil {
							return err
						}
						stsUID, claimUID = sts.UID, c.UID
						return nil
					},
				),
			},
			{
				// A version change rolls the same StatefulSet.
				Config: cfg("8.4", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("password_version"), knownvalue.Int64Exact(1)),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkLive("mysql", "mysql:8.4", "1Gi", 3306),
					e.checkVaultVersion(1),
					e.checkSameStatefulSet(&stsUID),
				),
			},
			{
				// A rotation in Vault shows in the plan, without the value.
				PreConfig: func() {
					acctest.PutVault(t, e.vaultPath(), map[string]any{"password": rotated})
				},
				RefreshState: true,
				RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionUpdate),
					noSecretInPlan{e},
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestMatchResourceAttr("idp_database.test", "objects."+e.secretKey(),
						regexp.MustCompile(`^Vault .*/`+regexp.QuoteMeta(e.vaultPath())+` version 2 not synced$`)),
					resource.TestMatchResourceAttr("idp_database.test", "objects."+e.stsKey(),
						regexp.MustCompile(`^Vault .* version 2 not synced$`)),
					e.checkNoPassword(&firstPassword),
				),
				ExpectNonEmptyPlan: true,
			},
			{
				// Apply first changes the password inside the server. A kwok
				// pod has no server to exec into: the apply stops there, and
				// nothing else changes (the real-node database test covers
				// the change itself).
				Config: cfg("8.4", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue("idp_database.test", tfjsonpath.New("password_version")),
						noSecretInPlan{e},
					},
				},
				ExpectError: regexp.MustCompile(`(?s)Changing the password inside the database failed.*The database and its\s+Secret keep the old password`),
			},
			{
				// The Secret kept the old password. Written back to Vault (as
				// an operator undoing a rotation would), it needs no change
				// in the server: apply re-syncs the Secret's version and
				// restarts the pods.
				PreConfig: func() {
					sec, err := e.cs.CoreV1().Secrets(e.project).Get(e.ctx(), e.secretName(), metav1.GetOptions{})
					if err != nil || string(sec.Data["password"]) != firstPassword {
						t.Fatalf("a failed rotation changed the Secret (err=%v)", err)
					}
					acctest.PutVault(t, e.vaultPath(), map[string]any{"password": firstPassword})
				},
				Config: cfg("8.4", ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("password_version"), knownvalue.Int64Exact(3)),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkLive("mysql", "mysql:8.4", "1Gi", 3306),
					e.checkSameStatefulSet(&stsUID),
					e.checkNoPassword(&firstPassword),
				),
			},
			{
				// Import reads storage_class from the claim template too.
				ResourceName:                         "idp_database.test",
				ImportState:                          true,
				ImportStateId:                        e.importID(),
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
				ImportStateCheck: func([]*terraform.InstanceState) error {
					return e.checkVaultVersion(3)(nil)
				},
			},
			{
				Config:      e.config("mysql", "8.4", "512Mi", withClass),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Error: Database volumes cannot shrink.*with idp_database.test.*size would go from 1Gi down to 512Mi`),
			},
			{
				// The class cannot change either, with the error at storage_class.
				Config:   e.config("mysql", "8.4", "1Gi", `  storage_class = "`+defaultClass+`"`),
				PlanOnly: true,
				ExpectError: wordsRegexp(`Error: Database volumes cannot change storage class`, `storage_class = "`+defaultClass+`"`,
					`storage_class would change from "`+class+`" to "`+defaultClass+`"`, `set storage_class back to "`+class+`"`),
			},
			{
				Config:   e.config("mysql", "8.4", "1Gi", ""),
				PlanOnly: true,
				ExpectError: wordsRegexp(`Database volumes cannot change storage class`, `from "`+class+`" to the cluster's default (unset)`,
					`set storage_class back to "`+class+`"`),
			},
			{
				Config:      e.config("postgres", "16", "1Gi", withClass),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Changing the type replaces the database.*delete_data = true`),
			},
			{
				// Destroy keeps the volume and the password.
				Config: acctest.Config(""),
				Check: func(*terraform.State) error {
					if _, err := e.statefulSet(); !apierrors.IsNotFound(err) {
						return fmt.Errorf("StatefulSet not deleted (err=%v)", err)
					}
					for _, err := range []error{
						getErr(e.cs.CoreV1().Services(e.project).Get(e.ctx(), e.name, metav1.GetOptions{})),
						getErr(e.cs.CoreV1().Secrets(e.project).Get(e.ctx(), e.secretName(), metav1.GetOptions{})),
					} {
						if !apierrors.IsNotFound(err) {
							return fmt.Errorf("Service or Secret not deleted (err=%v)", err)
						}
					}
					c, err := e.claim()
					if err != nil || c.UID != claimUID || c.Status.Phase != corev1.ClaimBound || c.Spec.VolumeName != manualPV {
						return fmt.Errorf("claim not kept bound to %s (err=%v)", manualPV, err)
					}
					return e.checkVaultVersion(3)(nil)
				},
			},
			{
				// Created again with the same name, it gets both back.
				Config: cfg("8.4", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkLive("mysql", "mysql:8.4", "1Gi", 3306),
					e.checkVolume(&class, class, nil),
					e.checkVaultVersion(3),
					func(*terraform.State) error {
						c, err := e.claim()
						if err != nil || c.UID != claimUID || c.Spec.VolumeName != manualPV {
							return fmt.Errorf("the re-created database did not reattach claim %s (err=%v)", e.claimName(), err)
						}
						if pw, _ := e.vault(); pw != firstPassword {
							return fmt.Errorf("the password changed")
						}
						return nil
					},
				),
			},
			{
				Config: cfg("8.4", `  delete_data = true`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionUpdate),
				}},
			},
			{
				// With delete_data, a type change replaces the database and
				// starts empty: new volume, new password. Being replaced, it
				// may also move to another class: here the default one.
				Config: e.config("postgres", "16", "1Gi", `  delete_data = true`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkLive("postgres", "postgres:16", "1Gi", 5432),
					e.checkVolume(nil, defaultClass, &replacementPV),
					e.checkVaultVersion(1),
					func(*terraform.State) error {
						if c, err := e.claim(); err != nil || c.UID == claimUID {
							return fmt.Errorf("claim was not replaced (err=%v)", err)
						}
						if pw, _ := e.vault(); pw == firstPassword {
							return fmt.Errorf("the old password was kept")
						}
						// The hand-made volume (class reclaimPolicy Retain) is released.
						return eventually(func() error {
							v, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx(), manualPV, metav1.GetOptions{})
							if err != nil || v.Status.Phase != corev1.VolumeReleased {
								return fmt.Errorf("volume %s of the deleted claim is not Released (err=%v)", manualPV, err)
							}
							return nil
						})
					},
				),
			},
		},
	})
}

func getErr[T any](_ T, err error) error { return err }

// wordsRegexp matches the phrases in order, each as written but with any
// white space (tofu wraps diagnostics) between words.
func wordsRegexp(phrases ...string) *regexp.Regexp {
	parts := make([]string, len(phrases))
	for i, p := range phrases {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

func (e *dbEnv) checkSameStatefulSet(uid *types.UID) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sts, err := e.statefulSet()
		if err != nil {
			return err
		}
		if sts.UID != *uid {
			return fmt.Errorf("StatefulSet %s was recreated (uid %s, was %s)", sts.Name, sts.UID, *uid)
		}
		return nil
	}
}

// TestAccDatabase_adoptOldChart imports a database the Helm chart made
// (its StatefulSet, Service, Secret and the password already in Vault,
// its volume in the cluster's default class named explicitly), adopts it
// in place and grows its volume without touching the StatefulSet or its
// immutable claim template; destroy keeps the grown volume.
func TestAccDatabase_adoptOldChart(t *testing.T) {
	e := newDBEnv(t, "mysql")
	legacy := "legacy-" + stack.Name("pw")
	acctest.PutVault(t, e.vaultPath(), map[string]any{"password": legacy})
	app := e.stsName()
	secretEnv := func(name string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.secretName()}, Key: "password"}}}
	}
	chart := "argocd" // the old chart's objects were applied by ArgoCD
	if _, err := e.cs.CoreV1().Secrets(e.project).Create(e.ctx(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: e.secretName(), Annotations: map[string]string{"avp.kubernetes.io/path": "injunweb/data/" + e.vaultPath()}},
		Data:       map[string][]byte{"password": []byte(legacy)},
	}, metav1.CreateOptions{FieldManager: chart}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Services(e.project).Create(e.ctx(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: e.name},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 3306}}},
	}, metav1.CreateOptions{FieldManager: chart}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.AppsV1().StatefulSets(e.project).Create(e.ctx(), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: app, Labels: map[string]string{"app": app}},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: e.name,
			Replicas:    ptr.To[int32](1),
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: e.name, Image: "mysql:8.0", Ports: []corev1.ContainerPort{{ContainerPort: 3306}},
					Env: []corev1.EnvVar{
						{Name: "MYSQL_DATABASE", Value: "mysql_db"}, {Name: "MYSQL_USER", Value: "mysql_user"},
						secretEnv("MYSQL_PASSWORD"), secretEnv("MYSQL_ROOT_PASSWORD"),
					},
					VolumeMounts: []corev1.VolumeMount{{Name: render.DatabaseVolume(e.project, e.name), MountPath: "/var/lib/mysql"}},
				}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: render.DatabaseVolume(e.project, e.name)},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ptr.To(defaultClass),
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: k8sresource.MustParse("1Gi")}},
				},
			}},
		},
	}, metav1.CreateOptions{FieldManager: chart}); err != nil {
		t.Fatal(err)
	}
	var stsUID types.UID
	var generation int64
	var pv string
	sts, err := e.statefulSet()
	if err != nil {
		t.Fatal(err)
	}
	stsUID = sts.UID
	cfg := func(size string) string {
		return e.config("mysql", "8.0", size, `  storage_class = "`+defaultClass+`"`)
	}

	acctest.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Import reads type, version, port and size from the StatefulSet.
				Config:             cfg("1Gi"),
				ResourceName:       "idp_database.test",
				ImportState:        true,
				ImportStateId:      e.importID(),
				ImportStatePersist: true,
				ImportStateCheck: func(is []*terraform.InstanceState) error {
					a := is[0].Attributes
					if a["type"] != "mysql" || a["version"] != "8.0" || a["port"] != "3306" || a["size"] != "1Gi" || a["delete_data"] != "false" ||
						a["storage_class"] != defaultClass {
						return fmt.Errorf("imported type=%s version=%s port=%s size=%s delete_data=%s storage_class=%s",
							a["type"], a["version"], a["port"], a["size"], a["delete_data"], a["storage_class"])
					}
					return e.checkVaultVersion(1)(nil)
				},
			},
			{
				// Apply adopts the objects in place, with the password that
				// was already in Vault.
				Config: cfg("1Gi"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkLive("mysql", "mysql:8.0", "1Gi", 3306),
					e.checkSameStatefulSet(&stsUID),
					e.checkVolume(ptr.To(defaultClass), defaultClass, &pv),
					e.checkVaultVersion(1),
					e.checkNoPassword(),
					func(*terraform.State) error {
						sts, err := e.statefulSet()
						generation = sts.Generation
						return err
					},
				),
			},
			{
				// The imported class is what the volume has: leaving it out of
				// the configuration would be a change.
				Config:      e.config("mysql", "8.0", "1Gi", ""),
				PlanOnly:    true,
				ExpectError: wordsRegexp(`Database volumes cannot change storage class`, `from "`+defaultClass+`" to the cluster's default (unset)`),
			},
			{
				// Growing patches the claim and the provisioner expands the
				// volume; the StatefulSet (pod and claim templates) stays as
				// the chart made it.
				Config: cfg("2Gi"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("idp_database.test", tfjsonpath.New("size"), knownvalue.StringExact("2Gi")),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkSameStatefulSet(&stsUID),
					e.checkExpanded("2Gi"),
					e.checkVolume(ptr.To(defaultClass), defaultClass, nil),
					func(*terraform.State) error {
						sts, err := e.statefulSet()
						if err != nil {
							return err
						}
						if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String(); got != "1Gi" {
							return fmt.Errorf("claim template changed to %s", got)
						}
						if sts.Generation != generation {
							return fmt.Errorf("StatefulSet changed: generation %d, was %d", sts.Generation, generation)
						}
						if c, err := e.claim(); err != nil || c.Spec.VolumeName != pv {
							return fmt.Errorf("claim no longer bound to %s (err=%v)", pv, err)
						}
						return nil
					},
				),
			},
			{
				// Destroy (delete_data false) keeps the claim, bound to its
				// grown volume.
				Config: acctest.Config(""),
				Check: func(*terraform.State) error {
					if _, err := e.statefulSet(); !apierrors.IsNotFound(err) {
						return fmt.Errorf("StatefulSet not deleted (err=%v)", err)
					}
					c, err := e.claim()
					if err != nil || c.Status.Phase != corev1.ClaimBound || c.Spec.VolumeName != pv {
						return fmt.Errorf("claim not kept bound to %s (err=%v)", pv, err)
					}
					v, err := e.cs.CoreV1().PersistentVolumes().Get(e.ctx(), pv, metav1.GetOptions{})
					if err != nil || v.Status.Phase != corev1.VolumeBound || v.Spec.Capacity.Storage().String() != "2Gi" {
						return fmt.Errorf("volume %s not kept bound at 2Gi (err=%v)", pv, err)
					}
					return nil
				},
			},
		},
	})
}

// TestAccDatabase_invalidInput: every input is checked at plan.
func TestAccDatabase_invalidInput(t *testing.T) {
	stack.PreCheck(t)
	cfg := func(p, d, typ, version, size, extra string) string {
		return acctest.Config(fmt.Sprintf(`
resource "idp_database" "test" {
  project = %q
  name    = %q
  type    = %q
  version = %q
  size    = %q
%s
}
`, p, d, typ, version, size, extra))
	}
	for _, tc := range []struct{ config, err string }{
		{cfg("shop", "Orders", "mysql", "8.0", "1Gi", ""), `(?s)name.*DNS-1123 label`},
		{cfg("shop", "1orders", "mysql", "8.0", "1Gi", ""), `(?s)name.*must start with a letter`},
		{cfg("shop", strings.Repeat("o", render.MaxDatabaseName+1), "mysql", "8.0", "1Gi", ""), `(?s)name.*length must be between 1 and 27`},
		{cfg(strings.Repeat("p", 30), strings.Repeat("d", 25), "mysql", "8.0", "1Gi", ""), `(?s)Name too long.*at most 52`},
		{cfg("shop", "orders", "oracle", "8.0", "1Gi", ""), `(?s)type.*value must be one of`},
		{cfg("shop", "orders", "mysql", "8.0 lts", "1Gi", ""), `(?s)version.*must be an image tag`},
		{cfg("shop", "orders", "mysql", "8.0", "5GB!", ""), `(?s)Invalid size.*positive Kubernetes quantity`},
		{cfg("shop", "orders", "mysql", "8.0", "0", ""), `(?s)Invalid size`},
		{cfg("shop", "orders", "mysql", "8.0", "1Gi", "  port = 70000"), `(?s)port.*between 1 and 65535`},
		{cfg("shop", "orders", "mysql", "8.0", "1Gi", `  storage_class = "Fast_SSD"`), `(?s)Invalid storage class.*DNS-1123 subdomain`},
	} {
		acctest.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProviderFactories,
			Steps:                    []resource.TestStep{{Config: tc.config, PlanOnly: true, ExpectError: regexp.MustCompile(tc.err)}},
		})
	}
}
