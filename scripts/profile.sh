#!/usr/bin/env bash
# A profile of the hot path: the preloaded benchmark (scripts/bench.sh --events N --chats C)
# against a private PostgreSQL with pg_stat_statements, recorded by perf, then PostgreSQL's
# statements by total time (with their WAL) and memlink's own functions by CPU samples.
#   scripts/profile.sh [--events 20000] [--chats 1000]
# Needs perf (linux-perf) and root or perf_event_paranoid <= 1 for the daemon's samples.
# The private cluster lives in ${PROFILE_DIR:-/var/tmp/memlink-profile} on port
# ${PROFILE_PG_PORT:-55433} and is left running for the next profile
# (`pg_ctl -D $PROFILE_DIR/data stop` to stop it). Redis is the one scripts/services.sh finds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
events=20000
chats=1000
while [[ $# -gt 0 ]]; do
    case "$1" in
      --events) events="$2"; shift 2 ;;
      --chats) chats="$2"; shift 2 ;;
      *) sed -n 2,9p "$0"; exit 2 ;;
    esac
done
command -v perf >/dev/null || { echo "profile: perf is not installed" >&2; exit 1; }
unset DATABASE_URL
# shellcheck source=scripts/services.sh
source scripts/services.sh   # REDIS_URL (and a local PostgreSQL, unused here)

dir="${PROFILE_DIR:-/var/tmp/memlink-profile}"
port="${PROFILE_PG_PORT:-55433}"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
as_postgres() { if [[ "$(id -u)" -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }
if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    mkdir -p "$dir"
    if [[ "$(id -u)" -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 >"$dir/initdb.log"
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 100
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
CONF
fi
if ! as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
fi
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
psql "$DATABASE_URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
cargo build --release --bin memlink --bin memlink-bench >&2
psql "$DATABASE_URL" -qAtc "SELECT pg_stat_statements_reset()" >/dev/null

data="$dir/perf.data"
perf record -F 997 -a -o "$data" -- scripts/bench.sh --events "$events" --chats "$chats" 2>/dev/null \
    | grep -E '^(events_per_sec|latency_ms|daemon_peak|cpu_seconds)'

echo "== PostgreSQL: statements by total execution time (all databases of the private cluster)"
psql "$DATABASE_URL" -P pager=off -c "
    SELECT calls, round(total_exec_time::numeric, 0) AS total_ms,
           round((total_exec_time / greatest(calls, 1))::numeric, 3) AS mean_ms, rows,
           round(wal_bytes / 1048576.0, 1) AS wal_mb, wal_fpi,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS statement
      FROM pg_stat_statements
     WHERE query !~* 'pg_stat_statements|CREATE DATABASE|DROP DATABASE'
     ORDER BY total_exec_time DESC LIMIT 15"

echo "== CPU samples by process (perf, whole machine, during the run)"
perf report -i "$data" --stdio --no-children --sort comm 2>/dev/null | grep -E '^ +[0-9]' | head -n 8
echo "== memlink's own functions, share of its CPU samples (perf)"
perf report -i "$data" --stdio --no-children --comm memlink --percentage relative --sort symbol 2>/dev/null \
    | grep -E '^ +[0-9]' | head -n 15
