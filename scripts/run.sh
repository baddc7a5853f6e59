#!/usr/bin/env bash
# Run the daemon locally: services up, release build, then `memlink run` (migrates, then runs).
#   scripts/run.sh [args for `memlink run`...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Whether the caller chose a database; if not, the daemon gets its own `memlink` database on
# the server services.sh found, rather than tables in that server's admin database.
user_database_url="${DATABASE_URL:-}"

# rustc links through the system C compiler, which a minimal Debian lacks.
scripts/services.sh linker

# shellcheck source=scripts/services.sh
source scripts/services.sh

# The same server URL with another database name (query string kept).
with_database() {
    local base="${1%%\?*}"
    local query="${1#"$base"}"
    local rest="${base#*://}"
    printf '%s://%s/%s%s\n' "${base%%://*}" "${rest%%/*}" "$2" "$query"
}

if [[ -z "$user_database_url" ]]; then
    if ! psql "$DATABASE_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = 'memlink'" | grep -q 1; then
        psql "$DATABASE_URL" -qc "CREATE DATABASE memlink"
    fi
    DATABASE_URL="$(with_database "$DATABASE_URL" memlink)"
    export DATABASE_URL
fi

export RUST_LOG="${RUST_LOG:-info}"

binary="${CARGO_TARGET_DIR:-target}/release/memlink"
if [[ ! -x "$binary" ]]; then
    echo "run: first release build of memlink and its dependencies (several minutes on 2 cores; later runs rebuild only what changed)" >&2
fi
# --locked: the dependency versions committed in Cargo.lock, as CI and the Dockerfile use.
cargo build --release --locked --bin memlink

# exec so that Ctrl-C / SIGTERM reach the daemon itself and it can shut down cleanly.
exec "$binary" run "$@"
