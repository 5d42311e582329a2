package render

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A database reads its password from the environment only when it
// initialises an empty volume; afterwards the server keeps its own. A
// rotation in Vault must therefore be carried into the running server, with
// the credentials it has now, before the pods restart onto the new Secret.
//
// PasswordChange is that step for one type: a command to run in the
// database's container and what to write to its stdin. Passwords travel on
// stdin only, never in the command (which the API server may log): the
// first line is the current password, the second the new one, the rest a
// statement for the server's client. The script succeeds when the change
// is made, or when the new password already works (a retried apply after a
// partial failure). It needs what the official images have: sh and the
// server's own client.
type PasswordChange struct {
	Command []string
	Stdin   string
}

// passwordScripts take $1 = port, $2 = user, $3 = database (never
// secrets).
var passwordScripts = map[string]string{
	"redis": `read -r old; read -r new
out=$(REDISCLI_AUTH="$old" redis-cli --no-auth-warning -p "$1" CONFIG SET requirepass "$new" 2>&1)
[ "$out" = OK ] && exit 0
[ "$(REDISCLI_AUTH="$new" redis-cli --no-auth-warning -p "$1" PING 2>&1)" = PONG ] && exit 0
echo "redis-cli: $out" >&2; exit 1`,
	// As root over the local socket (root@localhost), which both mysql
	// and mariadb images create.
	"mysql": `read -r old; read -r new; sql=$(cat)
c=$(command -v mysql || command -v mariadb)
err=$(printf '%s\n' "$sql" | MYSQL_PWD="$old" "$c" -uroot 2>&1 >/dev/null) && exit 0
MYSQL_PWD="$new" "$c" -uroot -e 'SELECT 1' >/dev/null 2>&1 && exit 0
echo "$err" >&2; exit 1`,
	"postgres": `read -r old; read -r new; sql=$(cat)
err=$(printf '%s\n' "$sql" | PGPASSWORD="$old" psql -h 127.0.0.1 -p "$1" -U "$2" -d "$3" -v ON_ERROR_STOP=1 -q 2>&1 >/dev/null) && exit 0
PGPASSWORD="$new" psql -h 127.0.0.1 -p "$1" -U "$2" -d "$3" -c 'SELECT 1' >/dev/null 2>&1 && exit 0
echo "$err" >&2; exit 1`,
	"mongodb": `read -r old; read -r new; js=$(cat)
c=$(command -v mongosh || command -v mongo)
err=$("$c" --quiet --port "$1" -u "$2" -p "$old" --authenticationDatabase admin admin --eval "$js" 2>&1 >/dev/null) && exit 0
"$c" --quiet --port "$1" -u "$2" -p "$new" --authenticationDatabase admin admin --eval 'db.runCommand({ping: 1})' >/dev/null 2>&1 && exit 0
echo "$err" >&2; exit 1`,
}

// DatabasePasswordChange renders the change of db's password from old to
// new inside its server (db.Port, or the type's default port).
func DatabasePasswordChange(db Database, old, new string) (PasswordChange, error) {
	t, ok := DatabaseTypes[db.Type]
	script, known := passwordScripts[db.Type]
	if !ok || !known {
		return PasswordChange{}, fmt.Errorf("unknown database type %q", db.Type)
	}
	if strings.ContainsAny(old+new, "\n\r") {
		return PasswordChange{}, fmt.Errorf("a database password cannot contain a line break")
	}
	port := db.Port
	if port == 0 {
		port = t.Port
	}
	user := t.Username(db.Name)
	var statement string
	switch db.Type {
	case "mysql":
		// Root (both hosts the images create) and the application user:
		// the contract gives them the same password.
		q := mysqlQuote(new)
		for _, account := range []string{"'root'@'localhost'", "'root'@'%'", mysqlQuote(user) + "@'%'"} {
			statement += "ALTER USER IF EXISTS " + account + " IDENTIFIED BY " + q + ";\n"
		}
	case "postgres":
		statement = `ALTER USER "` + strings.ReplaceAll(user, `"`, `""`) + `" WITH PASSWORD '` + strings.ReplaceAll(new, "'", "''") + "';\n"
	case "mongodb":
		u, _ := json.Marshal(user)
		p, _ := json.Marshal(new)
		statement = fmt.Sprintf("db.changeUserPassword(%s, %s)\n", u, p)
	}
	return PasswordChange{
		Command: []string{"sh", "-c", script, "change-password", strconv.FormatInt(port, 10), user, t.DBName(db.Name)},
		Stdin:   old + "\n" + new + "\n" + statement,
	}, nil
}

// mysqlQuote quotes s as a MySQL string literal (backslash escapes are on
// by default).
func mysqlQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
