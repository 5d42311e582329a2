#!/bin/sh
# The postgres image's entrypoint, after docker-library/postgres
# docker-entrypoint.sh (MIT) in POSIX sh, with only POSTGRES_PASSWORD,
# POSTGRES_USER, POSTGRES_DB and PGDATA. Arguments starting with "-" go to
# postgres. As root it makes PGDATA postgres' own and restarts itself as
# postgres (gosu). On an empty PGDATA it runs initdb with the password,
# admits password (scram-sha-256) connections from anywhere, listens on
# every address and creates POSTGRES_DB; a PGDATA that holds a cluster is
# used as it is.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
	chmod 00700 "$PGDATA"
	mkdir -p /var/run/postgresql
	find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	chmod 03775 /var/run/postgresql
	exec gosu postgres "$0" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
		echo '       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser.' >&2
		exit 1
	fi
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb --username="$user" --pwfile="$pwfile" --encoding=UTF8 --locale=C >/dev/null
	rm -f "$pwfile"
	printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	if [ "$db" != 'postgres' ]; then
		ident=$(printf '%s' "$db" | sed 's/"/""/g')
		printf 'CREATE DATABASE "%s";\n' "$ident" | postgres --single -j -D "$PGDATA" postgres >/dev/null
	fi
	echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
