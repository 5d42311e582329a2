#!/bin/sh
# The MySQL-protocol image's entrypoint (MariaDB served as "mysql"), after
# docker-library/mariadb docker-entrypoint.sh (GPL-2.0) in POSIX sh, with
# only MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD.
# Arguments starting with "-" go to mariadbd. As root it makes the data
# directory mysql's own and restarts itself as mysql (gosu). On an empty
# /var/lib/mysql it installs the system tables, then on a server without
# networking sets root's password (root@localhost and root@%), creates the
# database and the user with all rights on it; a data directory that holds
# a server is used as it is.
set -eu

if [ "${1#-}" != "$1" ]; then
	set -- mariadbd "$@"
fi
datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if { [ "$1" = 'mariadbd' ] || [ "$1" = 'mysqld' ]; } && [ "$(id -u)" = '0' ]; then
	mkdir -p "$datadir" /run/mysqld
	find "$datadir" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
	exec gosu mysql "$0" "$@"
fi

# sql_string <value>: a single-quoted SQL string literal.
sql_string() {
	printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

if { [ "$1" = 'mariadbd' ] || [ "$1" = 'mysqld' ]; } && [ ! -d "$datadir/mysql" ]; then
	if [ -z "${MYSQL_ROOT_PASSWORD:-}" ]; then
		echo 'error: database is uninitialized and password option is not specified' >&2
		echo '  You need to specify MYSQL_ROOT_PASSWORD' >&2
		exit 1
	fi
	echo 'Initializing database files'
	mariadb-install-db --datadir="$datadir" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --skip-log-bin >/dev/null
	"$@" --skip-networking --socket="$socket" --skip-log-bin &
	pid=$!
	i=0
	until mariadb --protocol=socket --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -ge 60 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo 'Unable to start server.' >&2
			exit 1
		fi
		sleep 0.5
	done
	root=$(sql_string "$MYSQL_ROOT_PASSWORD")
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
		echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
		echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');"
		echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($root);"
		echo "CREATE USER 'root'@'%' IDENTIFIED BY $root;"
		echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		echo "GRANT PROXY ON ''@'%' TO 'root'@'%' WITH GRANT OPTION;"
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			db=$(printf '%s' "$MYSQL_DATABASE" | sed 's/`/``/g')
			echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"
		fi
		if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
			echo "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
			if [ -n "${MYSQL_DATABASE:-}" ]; then
				echo "GRANT ALL ON \`$(printf '%s' "$db" | sed 's/_/\\_/g')\`.* TO $(sql_string "$MYSQL_USER")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --protocol=socket --socket="$socket" -uroot --binary-mode
	kill "$pid"
	wait "$pid" || true
	echo 'MariaDB init process done. Ready for start up.'
fi

exec "$@"
