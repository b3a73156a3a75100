#!/usr/bin/env bash
# Installs Debian's PostgreSQL and Redis servers for the queue-mode e2e tier (npm run test:queue),
# when they are missing: `apt-get install postgresql redis-server`. Only the packages: the tier runs
# its own throwaway Postgres cluster and redis-server on 127.0.0.1 (scripts/lib/queue.mjs) and never
# uses or changes the system's default cluster or service.
#
# Package installs must not start those system services (they would keep listening after the run):
# when the machine has no /usr/sbin/policy-rc.d, one that refuses service starts (exit 101, Debian's
# documented mechanism, honoured by invoke-rc.d and deb-systemd-invoke) is put there for the install
# and removed afterwards.
#
# Several things may run apt-get at once (the e2e tier installs chromium): every apt-get waits up to
# 10 minutes for the dpkg lock, and `apt-get update` is retried.
#
# QUEUE_APT_FORCE=1 runs apt-get update + install even when both servers are present.
set -euo pipefail

PACKAGES=(postgresql redis-server)
APT_OPTS=(-o DPkg::Lock::Timeout=600)

pg_bin() {
	# The newest installed major version's server binaries (postgresql-<major>).
	local dir
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_isready" ] && [ -x "$dir/psql" ] && [ -x "$dir/pg_dump" ]; then
			echo "$dir"
			return 0
		fi
	done
	return 1
}

have_all() {
	pg_bin >/dev/null && command -v redis-server >/dev/null && command -v redis-cli >/dev/null && id -u postgres >/dev/null 2>&1
}

if have_all && [ "${QUEUE_APT_FORCE:-0}" != "1" ]; then
	echo "postgres: $(pg_bin) ($("$(pg_bin)/postgres" --version)); $(redis-server --version | cut -d' ' -f1-3)"
	exit 0
fi

if [ "$(id -u)" != "0" ]; then
	echo "install-queue-services: ${PACKAGES[*]} must be installed, and that needs root (apt-get)" >&2
	exit 1
fi

POLICY=/usr/sbin/policy-rc.d
MARK='# written by n8n-nodes-cloman scripts/install-queue-services.sh'
cleanup() {
	if [ -f "$POLICY" ] && grep -qF "$MARK" "$POLICY"; then rm -f "$POLICY"; fi
}
if [ ! -e "$POLICY" ]; then
	trap cleanup EXIT
	printf '#!/bin/sh\n%s: no service starts during the install\nexit 101\n' "$MARK" >"$POLICY"
	chmod 755 "$POLICY"
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
for attempt in 1 2 3 4 5; do
	if apt-get "${APT_OPTS[@]}" update; then break; fi
	if [ "$attempt" = 5 ]; then
		echo "install-queue-services: apt-get update failed 5 times" >&2
		exit 1
	fi
	echo "apt-get update failed (attempt $attempt), retrying in $((attempt * 10))s" >&2
	sleep $((attempt * 10))
done
apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${PACKAGES[@]}"

if ! have_all; then
	echo "install-queue-services: after apt-get install, postgres/initdb/psql/pg_dump (/usr/lib/postgresql/*/bin), redis-server/redis-cli or the postgres user are still missing" >&2
	exit 1
fi
echo "installed ${PACKAGES[*]} in $(($(date +%s) - start))s"
echo "postgres: $(pg_bin) ($("$(pg_bin)/postgres" --version)); $(redis-server --version | cut -d' ' -f1-3)"
