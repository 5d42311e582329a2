package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// e2eDatabase is one database type that runs for real on the stack's real
// node: the version whose image the stack builds (scripts/stack/images,
// debian_images.go) and a client script for the image's own client.
type e2eDatabase struct {
	typ, version string
	// script runs in a pod of the database's image with H, P, U, D, PW
	// (host, port, user, database, password) and W (a value to write, or
	// empty), after up waits for a connection. It prints "WRONG-ACCEPTED"
	// when a wrong password gets in, and "READ:" followed by every value
	// written so far.
	up, script string
}

// dbClientScript waits up to 30 s for up to succeed: the real node's
// NetworkPolicy firewall (kube-router) admits a new pod's address only
// once it has seen the pod, so a fresh client's first packets may be
// refused. Then it runs script.
func dbClientScript(db e2eDatabase) string {
	return `i=0
until out=$(` + db.up + ` 2>&1); do
	i=$((i + 1)); [ $i -lt 60 ] || { echo "no connection: $out" >&2; exit 1; }; sleep 0.5
done
` + db.script
}

var e2eDatabases = []e2eDatabase{
	{typ: "redis", version: "7.0", up: `[ "$(REDISCLI_AUTH=$PW redis-cli --no-auth-warning -h "$H" -p "$P" PING 2>&1)" = PONG ]`, script: `set -e
export REDISCLI_AUTH
[ "$(REDISCLI_AUTH=wrong-$PW redis-cli --no-auth-warning -h "$H" -p "$P" PING 2>&1)" != PONG ] || echo WRONG-ACCEPTED
REDISCLI_AUTH=$PW
[ -z "$W" ] || redis-cli --no-auth-warning -h "$H" -p "$P" RPUSH idp-e2e "$W" >/dev/null
echo "READ:$(redis-cli --no-auth-warning -h "$H" -p "$P" LRANGE idp-e2e 0 -1 | tr '\n' ,)"`},
	{typ: "postgres", version: "15", up: `PGPASSWORD=$PW psql -h "$H" -p "$P" -U "$U" -d "$D" -c 'SELECT 1'`, script: `set -e
q() { PGOPTIONS='-c client_min_messages=warning' psql -h "$H" -p "$P" -U "$U" -d "$D" -v ON_ERROR_STOP=1 -tAq -c "$1"; }
! PGPASSWORD=wrong-$PW psql -h "$H" -p "$P" -U "$U" -d "$D" -c 'SELECT 1' >/dev/null 2>&1 || echo WRONG-ACCEPTED
export PGPASSWORD=$PW
[ -z "$W" ] || q "CREATE TABLE IF NOT EXISTS idp_e2e (v text); INSERT INTO idp_e2e VALUES ('$W')"
echo "READ:$(q "SELECT string_agg(v, ',' ORDER BY v) FROM idp_e2e")"`},
	{typ: "mysql", version: "10.11", up: `MYSQL_PWD=$PW mariadb -h "$H" -P "$P" -u "$U" "$D" -e 'SELECT 1'`, script: `set -e
q() { mariadb -h "$H" -P "$P" -u "$U" -N -B "$D" -e "$1"; }
! MYSQL_PWD=wrong-$PW mariadb -h "$H" -P "$P" -u "$U" "$D" -e 'SELECT 1' >/dev/null 2>&1 || echo WRONG-ACCEPTED
export MYSQL_PWD=$PW
[ -z "$W" ] || q "CREATE TABLE IF NOT EXISTS idp_e2e (v varchar(64)); INSERT INTO idp_e2e VALUES ('$W')"
echo "READ:$(q "SELECT GROUP_CONCAT(v ORDER BY v) FROM idp_e2e")"`},
}

// TestAccE2E_databases runs each database type that has an image on the
// real node (mongodb has none: no Debian package) in one project, all in
// parallel: the password the ephemeral idp_database_credentials returns
// opens the server through its host attribute from a pod of the project;
// data survives the pod's restart, the volume's growth, and a destroy
// without delete_data followed by a re-create, which finds the old
// password.
func TestAccE2E_databases(t *testing.T) {
	stack.RealNode(t)
	project := stack.Name("e2e-db")
	seedProjectVault(t, project)
	cs, _ := stack.Kube(t)
	ns := render.Namespace(project)
	t.Cleanup(func() {
		kv, _ := stack.Vault(t)
		for _, db := range e2eDatabases {
			_ = kv.DeleteMetadata(context.Background(), render.DatabaseVaultPath(project, db.typ))
		}
	})
	factories := map[string]func() (tfprotov6.ProviderServer, error){"echo": echoprovider.NewProviderServer()}
	for k, v := range acctest.ProviderFactories {
		factories[k] = v
	}
	config := func(size string, withDatabases bool) string {
		hcl := fmt.Sprintf(`
resource "idp_project" "p" {
  name        = %q
  delete_data = true
  annotations = %s
}
`, project, stack.RealNodeAnnotations)
		if withDatabases {
			var echo []string
			for _, db := range e2eDatabases {
				hcl += fmt.Sprintf(`
resource "idp_database" %[1]q {
  project = idp_project.p.name
  name    = %[1]q
  type    = %[1]q
  version = %[2]q
  size    = %[3]q
}

ephemeral "idp_database_credentials" %[1]q {
  project = idp_database.%[1]s.project
  name    = idp_database.%[1]s.name
  version = idp_database.%[1]s.password_version
}
`, db.typ, db.version, size)
				// The consumer gets the password's hash: a password in the
				// echo resource's state would be in tofu's logs and state
				// (the secret scan fails the test).
				echo = append(echo, fmt.Sprintf(`%[1]s = {
      host            = ephemeral.idp_database_credentials.%[1]s.host
      port            = ephemeral.idp_database_credentials.%[1]s.port
      username        = ephemeral.idp_database_credentials.%[1]s.username
      database        = ephemeral.idp_database_credentials.%[1]s.database
      password_sha256 = sha256(ephemeral.idp_database_credentials.%[1]s.password)
    }`, db.typ))
			}
			hcl += "\nprovider \"echo\" {\n  data = {\n    " + strings.Join(echo, "\n    ") + "\n  }\n}\n\nresource \"echo\" \"creds\" {}\n"
		} else {
			hcl += "\nprovider \"echo\" {\n  data = {}\n}\n"
		}
		return strings.Replace(acctest.Config(hcl), `idp = { source = "idpkit/idp" }`, fmt.Sprintf(`idp = { source = "idpkit/idp" }
    echo = { source = %q }`, os.Getenv("TF_ACC_PROVIDER_NAMESPACE")+"/echo"), 1)
	}

	// creds are what idp_database_credentials returned, by type; the
	// password is Vault's, which the returned one's hash must match.
	creds := map[string]map[string]string{}
	readCreds := func(s *terraform.State) error {
		rs := s.RootModule().Resources["echo.creds"]
		if rs == nil {
			return fmt.Errorf("no echo.creds in state")
		}
		kv, _ := stack.Vault(t)
		for _, db := range e2eDatabases {
			c := map[string]string{}
			for _, k := range []string{"host", "port", "username", "database", "password_sha256"} {
				c[k] = rs.Primary.Attributes["data."+db.typ+"."+k]
			}
			v, err := kv.Get(context.Background(), render.DatabaseVaultPath(project, db.typ))
			if err != nil {
				return err
			}
			c["password"], _ = v.Data["password"].(string)
			sum := sha256.Sum256([]byte(c["password"]))
			if c["host"] != render.DatabaseHost(project, db.typ) || c["password_sha256"] != hex.EncodeToString(sum[:]) {
				return fmt.Errorf("%s: credentials host=%q port=%q username=%q database=%q, password is Vault's: %v",
					db.typ, c["host"], c["port"], c["username"], c["database"], c["password_sha256"] == hex.EncodeToString(sum[:]))
			}
			creds[db.typ] = c
		}
		return nil
	}
	// each runs check for every type in parallel.
	each := func(check func(db e2eDatabase) error) error {
		var wg sync.WaitGroup
		errs := make([]error, len(e2eDatabases))
		for i, db := range e2eDatabases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := check(db); err != nil {
					errs[i] = fmt.Errorf("%s: %w", db.typ, err)
				}
			}()
		}
		wg.Wait()
		var msgs []string
		for _, err := range errs {
			if err != nil {
				msgs = append(msgs, err.Error())
			}
		}
		if len(msgs) > 0 {
			dumpNamespace(t, ns)
			return fmt.Errorf("%s", strings.Join(msgs, "\n"))
		}
		return nil
	}
	// client runs db's script with the credentials read last, writing w.
	client := func(db e2eDatabase, step, w string, want ...string) error {
		out, err := runDBClient(t, cs, ns, db, step, creds[db.typ], w)
		if err != nil {
			return err
		}
		if strings.Contains(out, "WRONG-ACCEPTED") {
			return fmt.Errorf("%s: a wrong password was accepted", step)
		}
		_, read, _ := strings.Cut(out, "READ:")
		for _, v := range want {
			if !strings.Contains(read, v) {
				return fmt.Errorf("%s: read %q, want %q in it (output %q)", step, strings.TrimSpace(read), v, out)
			}
		}
		return nil
	}
	var start time.Time
	passwords := map[string]string{}
	mark := func() { start = time.Now() }

	acctest.Test(t, resource.TestCase{
		PreCheck:                 func() { stack.RealNode(t) },
		ProtoV6ProviderFactories: factories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		Steps: []resource.TestStep{
			{
				// Connect: the password from idp_database_credentials opens
				// each server through its host; a wrong one does not. Then
				// the pod is deleted and the StatefulSet brings it back.
				PreConfig: mark,
				Config:    config("1Gi", true),
				Check: func(s *terraform.State) error {
					t.Logf("apply with %d databases took %s", len(e2eDatabases), time.Since(start).Round(100*time.Millisecond))
					if err := readCreds(s); err != nil {
						return err
					}
					return each(func(db e2eDatabase) error {
						logReady(t, cs, ns, project, db.typ)
						passwords[db.typ] = creds[db.typ]["password"]
						if err := client(db, "connect", "v1", "v1"); err != nil {
							return err
						}
						if err := restartDBPod(t, cs, ns, project, db.typ); err != nil {
							return err
						}
						return client(db, "after restart", "", "v1")
					})
				},
			},
			{
				// Growth: the claim expands, the data stays.
				Config: config("2Gi", true),
				Check: func(s *terraform.State) error {
					if err := readCreds(s); err != nil {
						return err
					}
					return each(func(db e2eDatabase) error {
						if err := claimExpanded(cs, ns, render.DatabaseClaim(project, db.typ, 0), "2Gi"); err != nil {
							return err
						}
						return client(db, "after growth", "v2", "v1", "v2")
					})
				},
			},
			{
				// Rotation: a new password in Vault is changed inside each
				// server over the old one, the pods restart onto it, the old
				// one stops working, and the data stays.
				PreConfig: func() {
					mark()
					for _, db := range e2eDatabases {
						acctest.PutVault(t, render.DatabaseVaultPath(project, db.typ), map[string]any{"password": stack.Name("rotated-")})
					}
				},
				Config: config("2Gi", true),
				Check: func(s *terraform.State) error {
					t.Logf("rotating %d passwords took %s", len(e2eDatabases), time.Since(start).Round(100*time.Millisecond))
					// The new password from Vault (the echo provider keeps
					// what the ephemeral resource gave when echo.creds was
					// created).
					kv, _ := stack.Vault(t)
					for _, db := range e2eDatabases {
						v, err := kv.Get(context.Background(), render.DatabaseVaultPath(project, db.typ))
						if err != nil {
							return err
						}
						creds[db.typ]["password"] = v.Data["password"].(string)
					}
					return each(func(db e2eDatabase) error {
						if creds[db.typ]["password"] == passwords[db.typ] {
							return fmt.Errorf("Vault still holds the old password")
						}
						if err := client(db, "after rotation", "", "v1", "v2"); err != nil {
							return err
						}
						old := maps.Clone(creds[db.typ])
						old["password"] = passwords[db.typ]
						if _, err := runDBClient(t, cs, ns, db, "with the old password", old, ""); err == nil {
							return fmt.Errorf("the old password still opens the server")
						}
						passwords[db.typ] = creds[db.typ]["password"]
						return nil
					})
				},
			},
			{
				// Destroy without delete_data: the claims and the passwords stay.
				Config: config("2Gi", false),
				Check: func(*terraform.State) error {
					kv, _ := stack.Vault(t)
					return each(func(db e2eDatabase) error {
						if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), render.DatabaseClaim(project, db.typ, 0), metav1.GetOptions{}); err != nil {
							return fmt.Errorf("claim after destroy: %w", err)
						}
						if s, err := kv.Get(context.Background(), render.DatabaseVaultPath(project, db.typ)); err != nil || s.Data["password"] != passwords[db.typ] {
							return fmt.Errorf("password in Vault after destroy changed or gone (err=%v)", err)
						}
						return nil
					})
				},
			},
			{
				// Re-create: the old volume, the old password, the old data.
				PreConfig: mark,
				Config:    config("2Gi", true),
				Check: func(s *terraform.State) error {
					t.Logf("re-creating %d databases took %s", len(e2eDatabases), time.Since(start).Round(100*time.Millisecond))
					if err := readCreds(s); err != nil {
						return err
					}
					return each(func(db e2eDatabase) error {
						logReady(t, cs, ns, project, db.typ)
						if creds[db.typ]["password"] != passwords[db.typ] {
							return fmt.Errorf("re-created with another password")
						}
						return client(db, "after re-create", "v3", "v1", "v2", "v3")
					})
				},
			},
		},
	})
}

// logReady logs how long database d took from its StatefulSet's creation
// to its pod's readiness (the API's timestamps, to the second).
func logReady(t *testing.T, cs kubernetes.Interface, ns, project, d string) {
	ctx := context.Background()
	sts, err := cs.AppsV1().StatefulSets(ns).Get(ctx, render.DatabaseStatefulSet(project, d), metav1.GetOptions{})
	if err != nil {
		return
	}
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, sts.Name+"-0", metav1.GetOptions{})
	if err != nil {
		return
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			t.Logf("%s: StatefulSet created to pod Ready in %s (pod on %s)", d, c.LastTransitionTime.Sub(sts.CreationTimestamp.Time), pod.Spec.NodeName)
		}
	}
}

// restartDBPod deletes database d's pod and waits until the StatefulSet's
// new pod is Ready.
func restartDBPod(t *testing.T, cs kubernetes.Interface, ns, project, d string) error {
	ctx := context.Background()
	name := render.DatabaseStatefulSet(project, d) + "-0"
	old, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.UID != old.UID {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					t.Logf("%s: pod deleted, back and Ready after %s", d, time.Since(start).Round(100*time.Millisecond))
					return nil
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("pod %s did not come back Ready within 3 minutes", name)
}

// claimExpanded waits until claim asks for and has size.
func claimExpanded(cs kubernetes.Interface, ns, claim, size string) error {
	want := k8sresource.MustParse(size)
	return eventually(func() error {
		c, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), claim, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := c.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(want) != 0 {
			return fmt.Errorf("claim %s requests %s, want %s", claim, got.String(), size)
		}
		if got := c.Status.Capacity[corev1.ResourceStorage]; got.Cmp(want) != 0 {
			return fmt.Errorf("claim %s has %s, want %s (not expanded)", claim, got.String(), size)
		}
		return nil
	})
}

// runDBClient runs db's client script in a one-off pod of the database's
// own image in namespace ns and returns its output.
func runDBClient(t *testing.T, cs kubernetes.Interface, ns string, db e2eDatabase, step string, c map[string]string, w string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: db.typ + "-client-"},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{
				Name:    "client",
				Image:   render.DatabaseImage(db.typ, db.version),
				Command: []string{"sh", "-c", dbClientScript(db)},
				Env: []corev1.EnvVar{
					{Name: "H", Value: c["host"]}, {Name: "P", Value: c["port"]}, {Name: "U", Value: c["username"]},
					{Name: "D", Value: c["database"]}, {Name: "PW", Value: c["password"]}, {Name: "W", Value: w},
				},
			}},
		},
	}
	p, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	defer func() { _ = cs.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{}) }()
	start := time.Now()
	for {
		p, err = cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("%s: client pod: %w", step, err)
		}
		if err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s: client pod %s did not finish (%s)", step, p.Name, p.Status.Phase)
		case <-time.After(300 * time.Millisecond):
		}
	}
	logs, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer logs.Close()
	b, _ := io.ReadAll(io.LimitReader(logs, 1<<16))
	out := string(b)
	if p.Status.Phase != corev1.PodSucceeded {
		return "", fmt.Errorf("%s: client failed: %s", step, strings.TrimSpace(out))
	}
	t.Logf("%s: %s: client in %s: %s", db.typ, step, time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(out))
	return out, nil
}
