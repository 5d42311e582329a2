package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets go on stdin only: the command may be logged by the API server.
func TestDatabasePasswordChange_secretsOnStdin(t *testing.T) {
	for _, typ := range DatabaseTypeNames() {
		pc, err := DatabasePasswordChange(Database{Project: "shop", Name: "orders", Type: typ}, "old-pw", "n'e\\w")
		if err != nil {
			t.Fatal(err)
		}
		if cmd := strings.Join(pc.Command, " "); strings.Contains(cmd, "old-pw") || strings.Contains(cmd, "n'e") {
			t.Errorf("%s: a password in the command %q", typ, cmd)
		}
		if !strings.HasPrefix(pc.Stdin, "old-pw\nn'e\\w\n") {
			t.Errorf("%s: stdin %q", typ, pc.Stdin)
		}
	}
	pc, _ := DatabasePasswordChange(Database{Name: "orders", Type: "mysql"}, "a", "n'e\\w")
	if !strings.Contains(pc.Stdin, `ALTER USER IF EXISTS 'orders_user'@'%' IDENTIFIED BY 'n''e\\w';`) {
		t.Errorf("mysql statement %q", pc.Stdin)
	}
	pc, _ = DatabasePasswordChange(Database{Name: "orders", Type: "postgres", Port: 6543}, "a", "n'e\\w")
	if !strings.Contains(pc.Stdin, `ALTER USER "orders_user" WITH PASSWORD 'n''e\w';`) || pc.Command[4] != "6543" {
		t.Errorf("postgres: %q %q", pc.Command, pc.Stdin)
	}
	if _, err := DatabasePasswordChange(Database{Name: "orders", Type: "redis"}, "a", "b\nCONFIG SET x"); err == nil {
		t.Error("a line break in a password was accepted")
	}
}

// The scripts run under the system's sh against stand-ins for the
// clients that accept only the password the server currently has: they
// change it, succeed again once it is changed (a retried apply), and fail
// with the client's message when neither password works.
func TestDatabasePasswordChange_scripts(t *testing.T) {
	// Each stand-in compares the password it gets with $STATE's content
	// and, for the change statement, writes the new one there.
	stubs := map[string]string{
		"redis-cli": `pw=$(cat "$STATE"); [ "$REDISCLI_AUTH" = "$pw" ] || { echo "WRONGPASS invalid username-password pair"; exit 0; }
case "$4" in CONFIG) printf '%s' "$7" > "$STATE"; echo OK;; PING) echo PONG;; esac`,
		"mysql": `pw=$(cat "$STATE"); [ "$MYSQL_PWD" = "$pw" ] || { echo "ERROR 1045 (28000): Access denied for user 'root'@'localhost'" >&2; exit 1; }
sql=$(cat); case "$sql" in *ALTER*) printf '%s' NEW > "$STATE";; esac; exit 0`,
		"psql": `pw=$(cat "$STATE"); [ "$PGPASSWORD" = "$pw" ] || { echo "psql: error: password authentication failed" >&2; exit 2; }
sql=$(cat); case "$sql" in *ALTER*) printf '%s' NEW > "$STATE";; esac; exit 0`,
	}
	bin := t.TempDir()
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []string{"redis", "mysql", "postgres"} {
		t.Run(typ, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "pw")
			_ = os.WriteFile(state, []byte("OLD"), 0o600)
			run := func(old, new string) (string, error) {
				pc, err := DatabasePasswordChange(Database{Name: "orders", Type: typ}, old, new)
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(pc.Command[0], pc.Command[1:]...)
				cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "STATE="+state)
				cmd.Stdin = strings.NewReader(pc.Stdin)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := run("OLD", "NEW"); err != nil {
				t.Fatalf("change: %v: %s", err, out)
			}
			if b, _ := os.ReadFile(state); string(b) != "NEW" {
				t.Fatalf("server password %q after the change", b)
			}
			if out, err := run("OLD", "NEW"); err != nil {
				t.Fatalf("retried change: %v: %s", err, out)
			}
			out, err := run("WRONG", "OTHER")
			if err == nil || out == "" {
				t.Fatalf("neither password works, yet: err %v, output %q", err, out)
			}
		})
	}
}
