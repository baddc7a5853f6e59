# Shell helpers shared by scripts/bench.sh and scripts/trace-latency.sh (sourced; defines
# functions only). scripts/services.sh keeps its helpers to itself by design.

# The URL of database $2 on the server of URL $1, its query string kept (scripts/bench.sh and
# scripts/trace-latency.sh make a database of their own next to the configured one).
db_url_for() {
    local base rest
    base="${1%%\?*}"
    rest="${base#*://}"
    printf '%s' "${base%%://*}://${rest%%/*}/$2${1#"$base"}"
}

# The directory holding the memlink and memlink-bench a run uses: MEMLINK_BIN_DIR when set
# (prebuilt binaries, for A/B runs of two builds), else the release build, brought up to date.
bench_bin_dir() {
    if [[ -z "${MEMLINK_BIN_DIR:-}" ]]; then
        cargo build --release --bin memlink --bin memlink-bench >&2
    fi
    printf '%s' "${MEMLINK_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}"
}

# The address a daemon whose log is $1 listens on, once it logs it (10 s at most).
wait_http_addr() {
    local addr=""
    for _ in $(seq 100); do
        addr="$(sed -n 's/.*event=http_listening addr=\([0-9.:]*\).*/\1/p' "$1" | head -n 1)"
        [[ -n "$addr" ]] && { printf '%s' "$addr"; return 0; }
        sleep 0.1
    done
    return 1
}

# Removes database $1 (from the server of DATABASE_URL) and stream $2 (from REDIS_URL): what a
# bench run made for itself. Never fails.
remove_run_data() {
    psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" || true
    redis-cli -u "$REDIS_URL" DEL "$2" >/dev/null || true
}
