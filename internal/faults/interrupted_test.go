package faults_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Interrupted applies: tofu and the provider are killed (SIGKILL to the
// process group, as an OOM kill or a cancelled CI job does) at a named
// step (engine/fault.go), then a plain apply runs again.

var (
	applyArgs   = []string{"apply", "-auto-approve", "-input=false", "-no-color"}
	destroyArgs = []string{"destroy", "-auto-approve", "-input=false", "-no-color"}
)

// killAt kills w's tofu at point and counts the fault.
func killAt(t *testing.T, w *acctest.Tofu, point string, args ...string) {
	t.Helper()
	where := w.KillAt(point, args...)
	injected(1)
	t.Logf("killed tofu at %s", where)
}

// cleanup destroys what w manages when the test ends, whatever happened.
func cleanup(t *testing.T, w *acctest.Tofu) {
	t.Cleanup(func() {
		if out, err := w.Run(destroyArgs...); err != nil {
			t.Errorf("cleanup: tofu destroy failed: %v\n%s", err, out)
		}
	})
}

func TestFaultInterrupted_project(t *testing.T) {
	t.Parallel()
	for _, point := range []string{engine.FaultObjectWritten, engine.FaultApplyHalf} {
		t.Run(point, func(t *testing.T) {
			name := stack.Name("f-proj")
			w := acctest.NewTofu(t)
			w.Write(hclProject(t, name))
			cleanup(t, w)
			killAt(t, w, point, applyArgs...)
			converge(t, w, name)
		})
	}
	t.Run("destroy", func(t *testing.T) {
		name := stack.Name("f-proj")
		w := acctest.NewTofu(t)
		w.Write(hclProject(t, name))
		cleanup(t, w)
		w.Apply()
		killAt(t, w, engine.FaultDeleteRequested, destroyArgs...)
		w.Destroy()
		destroyed(t, w, name)
	})
}

// destroyed: after a destroy, nothing is in state and nothing of ours is
// left in the namespace (which goes too, once its controller is done).
func destroyed(t *testing.T, w *acctest.Tofu, namespace string) {
	t.Helper()
	if left := w.StateObjects(); len(left) > 0 {
		t.Fatalf("state still has %v after destroy", left)
	}
	cs, _ := stack.Kube(t)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cs.CoreV1().Namespaces().Get(context.Background(), namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			left := ours(t, "", namespace)
			converged(len(left))
			t.Fatalf("namespace %s still exists 2 minutes after destroy; left: %v", namespace, left)
		}
		time.Sleep(time.Second)
	}
	converged(0)
}

func TestFaultInterrupted_application(t *testing.T) {
	t.Parallel()
	p := stack.Name("f-app")
	w := acctest.NewTofu(t)
	project := hclProject(t, p)
	config := project
	w.Write(config)
	cleanup(t, w)
	w.Apply()

	// Creates: each step adds one application and kills the apply that
	// creates it. Only that application writes, so the counts are its own.
	for _, c := range []struct{ app, point string }{
		{"a1", engine.FaultObjectWritten},
		{"a2", engine.FaultClaimHalf},
		{"a3", engine.FaultApplyHalf},
		{"a4", engine.FaultVaultWritten}, // the new webhook secret
		{"a5", engine.FaultRolloutWait},
	} {
		t.Run("create/"+c.point, func(t *testing.T) {
			config += hclApp(c.app, commit('a'), "")
			w.Write(config)
			killAt(t, w, c.point, applyArgs...)
			hook := vaultSecret(t, render.WebhookSecretVaultPath(p, c.app))
			converge(t, w, p)
			// The secret written before the kill is the one kept: a retry
			// never generates another.
			if after := vaultSecret(t, render.WebhookSecretVaultPath(p, c.app)); hook != nil && !sameSecret(hook, after) {
				t.Fatalf("webhook secret changed from version %d to %d by the re-apply", hook.Version, after.Version)
			}
			syncedVersion(t, p, render.WebhookSecret(p, c.app), render.WebhookSecretVaultPath(p, c.app))
		})
	}
	t.Run("update/"+engine.FaultApplyHalf, func(t *testing.T) {
		config = project + hclApp("a1", commit('b'), "") + hclApp("a2", commit('a'), "") +
			hclApp("a3", commit('a'), "") + hclApp("a4", commit('a'), "") + hclApp("a5", commit('a'), "")
		w.Write(config)
		killAt(t, w, engine.FaultApplyHalf, applyArgs...)
		converge(t, w, p)
	})
	t.Run("update/"+engine.FaultRolloutWait, func(t *testing.T) {
		config = project + hclApp("a1", commit('c'), "") + hclApp("a2", commit('a'), "") +
			hclApp("a3", commit('a'), "") + hclApp("a4", commit('a'), "") + hclApp("a5", commit('a'), "")
		w.Write(config)
		killAt(t, w, engine.FaultRolloutWait, applyArgs...)
		converge(t, w, p)
	})
	t.Run("rotation/"+engine.FaultVaultWritten, func(t *testing.T) {
		before := vaultSecret(t, render.WebhookSecretVaultPath(p, "a4"))
		config = project + hclApp("a1", commit('c'), "") + hclApp("a2", commit('a'), "") +
			hclApp("a3", commit('a'), "") + hclApp("a4", commit('a'), `  webhook_secret_rotation = "2"`) + hclApp("a5", commit('a'), "")
		w.Write(config)
		killAt(t, w, engine.FaultVaultWritten, applyArgs...)
		converge(t, w, p)
		// The user asked for a new secret: the re-apply finishes the
		// rotation (with one more version, since the killed apply could
		// not record the one it wrote), and the Secret follows Vault.
		if after := vaultSecret(t, render.WebhookSecretVaultPath(p, "a4")); after.Version <= before.Version {
			t.Fatalf("webhook secret not rotated: version %d, before %d", after.Version, before.Version)
		}
		syncedVersion(t, p, render.WebhookSecret(p, "a4"), render.WebhookSecretVaultPath(p, "a4"))
	})
	// The first delete (the Sensor), one amid the objects, and the last
	// one (the EventSource, by which refresh knows the application exists).
	for i, point := range []string{engine.FaultDeleteRequested + "#1", engine.FaultDeleteRequested + "@Service/",
		engine.FaultDeleteRequested + "@EventSource/"} {
		app := fmt.Sprintf("a%d", i+1)
		t.Run("destroy/"+point, func(t *testing.T) {
			killAt(t, w, point, append(destroyArgs, "-target=idp_application."+app)...)
			if out, err := w.Run(append(destroyArgs, "-target=idp_application."+app)...); err != nil {
				t.Fatalf("tofu destroy failed: %v\n%s", err, out)
			}
			left := orphansIn(t, w, "", p)
			converged(len(left))
			if len(left) > 0 {
				t.Fatalf("destroy left %d orphaned objects: %v", len(left), left)
			}
			if s := vaultSecret(t, render.WebhookSecretVaultPath(p, app)); s != nil {
				t.Fatalf("destroy left the webhook secret of %s in Vault (version %d)", app, s.Version)
			}
		})
	}
}

func TestFaultInterrupted_database(t *testing.T) {
	t.Parallel()
	p := stack.Name("f-db")
	w := acctest.NewTofu(t)
	project := hclProject(t, p)
	w.Write(project)
	cleanup(t, w)
	w.Apply()

	dbs := map[string]string{}
	write := func() {
		hcl := project
		for _, name := range []string{"d1", "d2", "d3", "d4"} {
			if extra, ok := dbs[name]; ok {
				hcl += hclDatabase(name, extra)
			}
		}
		w.Write(hcl)
	}
	passwords := map[string]*engine.Secret{}
	samePasswords := func(t *testing.T) {
		t.Helper()
		for d, pw := range passwords {
			if after := vaultSecret(t, render.DatabaseVaultPath(p, d)); !sameSecret(pw, after) {
				t.Fatalf("password of %s changed in Vault (version %d to %v)", d, pw.Version, after)
			}
			syncedVersion(t, p, render.DatabaseSecret(p, d), render.DatabaseVaultPath(p, d))
		}
	}
	for _, c := range []struct{ db, point string }{
		{"d1", engine.FaultObjectWritten},
		{"d2", engine.FaultClaimHalf},
		{"d3", engine.FaultVaultWritten}, // the new password
		{"d4", engine.FaultRolloutWait},
	} {
		t.Run("create/"+c.point, func(t *testing.T) {
			dbs[c.db] = ""
			write()
			killAt(t, w, c.point, applyArgs...)
			if pw := vaultSecret(t, render.DatabaseVaultPath(p, c.db)); pw != nil {
				passwords[c.db] = pw
			}
			converge(t, w, p)
			if passwords[c.db] == nil {
				passwords[c.db] = vaultSecret(t, render.DatabaseVaultPath(p, c.db))
			}
			samePasswords(t)
		})
	}
	// Updates while the volumes hold data: none is deleted or replaced.
	volumes := pvcUIDs(t, p)
	if len(volumes) < 4 {
		t.Fatalf("expected a volume per database, found %v", volumes)
	}
	for _, point := range []string{engine.FaultApplyHalf, engine.FaultRolloutWait} {
		t.Run("update/"+point, func(t *testing.T) {
			dbs["d4"] = fmt.Sprintf("  port = %d", 6000+len(point))
			write()
			killAt(t, w, point, applyArgs...)
			converge(t, w, p)
			samePasswords(t)
			if after := pvcUIDs(t, p); !maps.Equal(volumes, after) {
				t.Fatalf("volumes changed: before %v, after %v", volumes, after)
			}
		})
	}
	// Destroys: what delete_data says goes, goes; the rest stays.
	// With delete_data, the kill comes after the objects are gone, as the
	// volumes go: the Vault password must still go on the next destroy.
	for _, c := range []struct {
		db         string
		deleteData bool
		point      string
	}{{"d1", true, engine.FaultDeleteRequested + "@PersistentVolumeClaim/"}, {"d2", false, engine.FaultDeleteRequested}} {
		t.Run(fmt.Sprintf("destroy/delete_data=%v", c.deleteData), func(t *testing.T) {
			dbs[c.db] = fmt.Sprintf("  delete_data = %v", c.deleteData)
			write()
			w.Apply()
			target := "-target=idp_database." + c.db
			killAt(t, w, c.point, append(destroyArgs, target)...)
			if out, err := w.Run(append(destroyArgs, target)...); err != nil {
				t.Fatalf("tofu destroy failed: %v\n%s", err, out)
			}
			delete(dbs, c.db)
			left := orphansIn(t, w, "", p)
			converged(len(left))
			if len(left) > 0 {
				t.Fatalf("destroy left %d orphaned objects: %v", len(left), left)
			}
			pw := vaultSecret(t, render.DatabaseVaultPath(p, c.db))
			claims := 0
			for name := range pvcUIDs(t, p) {
				if render.IsDatabaseClaim(p, c.db, name) {
					claims++
				}
			}
			switch {
			case c.deleteData && (pw != nil || claims > 0):
				t.Fatalf("delete_data = true, but the password (%v) or %d volume(s) stayed", pw != nil, claims)
			case !c.deleteData && (!sameSecret(passwords[c.db], pw) || claims != 1):
				t.Fatalf("delete_data = false, but the password (kept: %v) or the volume (%d left) went", pw != nil, claims)
			}
			delete(passwords, c.db)
		})
	}
}

func vaultSecret(t *testing.T, path string) *engine.Secret {
	t.Helper()
	kv, err := stack.Engine(t).KV()
	if err != nil {
		t.Fatal(err)
	}
	s, err := kv.Read(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sameSecret(a, b *engine.Secret) bool {
	return a != nil && b != nil && a.Version == b.Version && maps.Equal(a.Values, b.Values)
}

// syncedVersion checks that Secret name holds Vault's latest version.
func syncedVersion(t *testing.T, p, name, vaultPath string) {
	t.Helper()
	cs, _ := stack.Kube(t)
	sec, err := cs.CoreV1().Secrets(p).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := vaultSecret(t, vaultPath)
	if s == nil || sec.Annotations[render.AnnotationVaultVersion] != fmt.Sprint(s.Version) {
		t.Fatalf("Secret %s holds Vault version %s, Vault has %v", name, sec.Annotations[render.AnnotationVaultVersion], s)
	}
	for k, v := range s.Values {
		if string(sec.Data[k]) != v {
			t.Fatalf("Secret %s key %s differs from Vault", name, k)
		}
	}
}

// pvcUIDs are the claims of project p's databases, by name.
func pvcUIDs(t *testing.T, p string) map[string]string {
	t.Helper()
	cs, _ := stack.Kube(t)
	list, err := cs.CoreV1().PersistentVolumeClaims(render.Namespace(p)).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range list.Items {
		// The EventBus's stores come whenever Argo Events gets to the
		// project (later on a busy controller): not the databases' data.
		if !render.IsEventBusVolumeClaim(p, c.Name) {
			out[c.Name] = string(c.UID)
		}
	}
	return out
}
