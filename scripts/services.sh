#!/usr/bin/env bash
# Make sure a PostgreSQL and a Redis are reachable and export their URLs.
#
#   source scripts/services.sh      # exports DATABASE_URL, REDIS_URL,
#                                   # MEMLINK_TEST_DATABASE_URL, MEMLINK_TEST_REDIS_URL
#   eval "$(scripts/services.sh)"   # same, without sourcing (bash)
#   scripts/services.sh stop        # stop the project-local instances under .data/
#   scripts/services.sh linker      # install the C toolchain rustc links with, if missing
#   scripts/services.sh test-tools  # install what the tests run besides the services:
#                                   # redis-server, promtool, systemd-analyze, initdb
#   scripts/services.sh browser     # install Debian's chromium and chromium-driver if missing
#                                   # (the admin console's browser tests need them)
#
# Order of preference, for each of PostgreSQL and Redis:
#   1. DATABASE_URL / REDIS_URL if already set (checked, never replaced);
#   2. the project-local instance under .data/, once one was made: the choice is made
#      once and kept (remove .data/ to choose again);
#   3. a server already answering on 127.0.0.1:5432 / 127.0.0.1:6379 without a password;
#   4. (PostgreSQL only) a stopped Debian cluster on port 5432, started with pg_ctlcluster;
#   5. a new project-local instance with its data under .data/ (packages installed with apt
#      if missing), on 127.0.0.1:55432 / 127.0.0.1:56379 (or the next free port), which it
#      keeps from then on.
#
# Knobs: MEMLINK_FORCE_LOCAL=1 skips 1 and 3-4 (for testing the local instances next to
# running services), MEMLINK_PG_PORT / MEMLINK_REDIS_PORT choose the local ports.

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced. The real work runs in a child bash so that set -e, traps and helper functions
    # never leak into the caller's (possibly interactive) shell; only the export lines come back.
    # The URLs are passed explicitly because a caller may have set them without exporting.
    __memlink_services_out="$(
        DATABASE_URL="${DATABASE_URL:-}" REDIS_URL="${REDIS_URL:-}" \
            bash "${BASH_SOURCE[0]}" start
    )" || { unset __memlink_services_out; return 1; }
    eval "$__memlink_services_out"
    unset __memlink_services_out
    return 0
fi

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DATA="$ROOT/.data"
PG_DIR="$DATA/postgres"
REDIS_DIR="$DATA/redis"
WAIT_SECS=30
PG_STD_PORT=5432
REDIS_STD_PORT=6379
# Project-local instances keep off the standard ports, which a system service may want later.
PG_LOCAL_PORT=55432
REDIS_LOCAL_PORT=56379
APT_UPDATED=0
# Set when we started a Debian cluster ourselves, so we can put it back if it is unusable.
STARTED_CLUSTER=""

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Passwords must never reach a log, whether given as user:pass@ or as ?password=.
redact() {
    sed -E -e 's#(://[^:/@]*):[^@]*@#\1:***@#' -e 's#([?&]password=)[^&]*#\1***#g' <<<"$1"
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

truthy() {
    case "${1:-}" in 1 | true | yes | on) return 0 ;; *) return 1 ;; esac
}

# --- packages -----------------------------------------------------------------------------

# Installs Debian packages quietly (their output is shown only if the install fails).
# With QUIET_SERVICES=1 the packages' own services are not started (policy-rc.d), for
# packages installed only for a tool they ship.
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing packages ($*) and no apt-get here: install them, or set DATABASE_URL/REDIS_URL"
    fi
    local -a sudo=()
    if ! is_root; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: $*"
        sudo=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    local out
    out="$(mktemp)"
    if [[ "$APT_UPDATED" -eq 0 ]]; then
        log "apt-get update"
        "${sudo[@]}" apt-get update -qq </dev/null >"$out" 2>&1 \
            || { cat "$out" >&2; rm -f "$out"; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    local policy="" rc=0
    if truthy "${QUIET_SERVICES:-}" && [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# scripts/services.sh: installing tools, not services\nexit 101\n' \
            | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 0755 "$policy"
    fi
    log "apt-get install $*"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" </dev/null >"$out" 2>&1 || rc=$?
    if [[ -n "$policy" ]]; then "${sudo[@]}" rm -f "$policy"; fi
    if [[ "$rc" -ne 0 ]]; then
        cat "$out" >&2
        rm -f "$out"
        die "apt-get install $* failed"
    fi
    rm -f "$out"
}

ensure_pg_client() {
    if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
        apt_install postgresql-client
    fi
}

ensure_redis_client() {
    command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools
}

# Highest installed server version, e.g. "15"; empty if none.
pg_server_version() {
    local d v best=""
    for d in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x "$d" ]] || continue
        v="${d#/usr/lib/postgresql/}"
        v="${v%%/*}"
        if [[ -z "$best" ]] || ((v > best)); then best="$v"; fi
    done
    printf '%s' "$best"
}

ensure_pg_server() {
    [[ -n "$(pg_server_version)" ]] || apt_install postgresql
    [[ -n "$(pg_server_version)" ]] || die "no PostgreSQL server under /usr/lib/postgresql after install"
}

ensure_redis_server() {
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
}

# rustc links through the system C compiler, which a minimal Debian lacks.
ensure_linker() {
    if ! command -v cc >/dev/null 2>&1; then
        log "installing a C toolchain for linking (gcc, libc6-dev)"
        apt_install gcc libc6-dev
    fi
}

# What the tests run besides the services; a test whose tool is missing fails, naming it.
ensure_test_tools() {
    ensure_redis_server
    ensure_pg_server
    command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd
    # promtool ships with the prometheus package; the server it also brings is not started.
    command -v promtool >/dev/null 2>&1 || QUIET_SERVICES=1 apt_install prometheus
    local tool
    for tool in redis-server systemd-analyze promtool; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is still missing after installing its package"
    done
}

# The console's end-to-end tests drive Debian's Chromium through its chromedriver; a test
# never downloads a browser of its own (and never skips for want of one).
CHROMIUM="${MEMLINK_TEST_CHROMIUM:-/usr/bin/chromium}"
CHROMEDRIVER="${MEMLINK_TEST_CHROMEDRIVER:-/usr/bin/chromedriver}"

ensure_browser() {
    local missing=()
    [[ -x "$CHROMIUM" ]] || missing+=(chromium)
    [[ -x "$CHROMEDRIVER" ]] || missing+=(chromium-driver)
    if [[ "${#missing[@]}" -gt 0 ]]; then
        apt_install "${missing[@]}"
    fi
    [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]] \
        || die "no $CHROMIUM or $CHROMEDRIVER after installing chromium and chromium-driver"
    log "browser for the console tests: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
}

# --- probes -------------------------------------------------------------------------------

# Anything listening at all? Used to avoid starting a second server on a taken port.
port_busy() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Never prompt and never pick up a stored password: "reachable" here means "usable with
# the URL we are about to export", and that URL has no password in it.
pg_works_without_password() {
    local port="$1"
    pg_isready -q -t 5 -h 127.0.0.1 -p "$port" 2>/dev/null || return 1
    env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 \
        psql -X -w -q -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'select 1' \
        </dev/null >/dev/null 2>&1
}

pg_url_works() {
    pg_isready -q -t 5 -d "$1" 2>/dev/null || return 1
    PGCONNECT_TIMEOUT=5 psql -X -w -q -At -d "$1" -c 'select 1' </dev/null >/dev/null 2>&1
}

redis_ping() {
    local out
    out="$(timeout 5 redis-cli --no-auth-warning "$@" ping 2>/dev/null </dev/null)" || return 1
    [[ "$out" == "PONG" ]]
}

wait_for() {
    local what="$1" i
    shift
    for ((i = 0; i < WAIT_SECS * 2; i++)); do
        "$@" && return 0
        sleep 0.5
    done
    log "$what did not answer within ${WAIT_SECS}s"
    return 1
}

# An explicit port is honoured (and a clash is an error); otherwise the preferred one (the
# port a local instance had before) if it is free, else the first free one from `base`.
pick_port() {
    local explicit="$1" preferred="$2" base="$3" p
    if [[ -n "$explicit" ]]; then
        printf '%s' "$explicit"
        return
    fi
    if [[ -n "$preferred" ]] && ! port_busy "$preferred"; then
        printf '%s' "$preferred"
        return
    fi
    for ((p = base; p < base + 20; p++)); do
        if ! port_busy "$p"; then
            printf '%s' "$p"
            return
        fi
    done
    die "no free port near $base"
}

# --- PostgreSQL ---------------------------------------------------------------------------

as_pg_owner() {
    # initdb and postgres refuse to run as root; cd / so they never trip over an
    # unreadable working directory.
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_bin_for_datadir() {
    local ver
    ver="$(cat "$1/PG_VERSION")"
    [[ -x "/usr/lib/postgresql/$ver/bin/pg_ctl" ]] \
        || die "$1 was created by PostgreSQL $ver, which is not installed (install postgresql-$ver, or remove $PG_DIR)"
    printf '/usr/lib/postgresql/%s/bin' "$ver"
}

# The postgres user has to reach the data dir; a checkout under e.g. /root is not
# traversable by it, so the data then lives under /var/tmp behind a symlink.
prepare_pg_dir() {
    if [[ -L "$PG_DIR" ]]; then
        mkdir -p "$(readlink -f "$PG_DIR")"
        return
    fi
    [[ -d "$DATA" ]] || mkdir -m 0755 "$DATA"
    mkdir -p "$PG_DIR"
    is_root || return 0
    chown postgres:postgres "$PG_DIR"
    if ! runuser -u postgres -- test -w "$PG_DIR" -a -x "$PG_DIR"; then
        local alt
        alt="/var/tmp/memlink-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/postgres"
        log "user postgres cannot reach $PG_DIR; keeping the data in $alt instead (symlinked)"
        rmdir "$PG_DIR" 2>/dev/null || die "$PG_DIR is not empty but unreachable for user postgres"
        mkdir -p "$alt"
        chmod 0755 "$(dirname "$alt")"
        chown postgres:postgres "$alt"
        ln -s "$alt" "$PG_DIR"
    fi
}

pg_running_port() {
    # postmaster.pid line 4 is the port; only trust it if pg_ctl agrees the server is up.
    local dir="$1" bin
    [[ -f "$dir/data/postmaster.pid" ]] || return 1
    bin="$(pg_bin_for_datadir "$dir/data")" || return 1
    as_pg_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || return 1
    sed -n 4p "$dir/data/postmaster.pid"
}

start_local_pg() {
    local dir port bin ver sockdir
    # Before anything else: the server package also creates the postgres user we chown to.
    ensure_pg_server
    prepare_pg_dir
    dir="$(readlink -f "$PG_DIR")"

    if [[ -f "$dir/data/PG_VERSION" ]] && port="$(pg_running_port "$dir")"; then
        if [[ -n "${MEMLINK_PG_PORT:-}" && "$MEMLINK_PG_PORT" != "$port" ]]; then
            die "the local PostgreSQL in $PG_DIR already runs on port $port, not MEMLINK_PG_PORT=$MEMLINK_PG_PORT (scripts/services.sh stop first)"
        fi
        log "local PostgreSQL already running ($PG_DIR, port $port)"
        PG_PORT="$port"
        return
    fi

    # Preferably the port it had before, so a later run finds it where the first one left it.
    port="$(pick_port "${MEMLINK_PG_PORT:-}" "$(cat "$dir/port" 2>/dev/null || true)" "$PG_LOCAL_PORT")"
    if port_busy "$port"; then
        die "port $port is already taken; choose another MEMLINK_PG_PORT or set DATABASE_URL"
    fi

    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        ver="$(pg_server_version)"
        bin="/usr/lib/postgresql/$ver/bin"
        log "initdb PostgreSQL $ver in $PG_DIR"
        if is_root; then chown postgres:postgres "$dir"; fi
        as_pg_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
        # Unix sockets have a ~107 byte path limit; a deep checkout would make the
        # server refuse to start, and TCP is all the exported URL needs anyway.
        sockdir="$dir/run"
        if ((${#sockdir} + 20 > 100)); then
            log "socket path would be too long; local PostgreSQL will listen on TCP only"
            sockdir=""
        else
            as_pg_owner mkdir -p "$sockdir"
        fi
        cat >>"$dir/data/postgresql.conf" <<EOF

# Added by scripts/services.sh: a private development/test instance.
# Loopback only, since authentication is "trust".
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
# Each test creates its own database and pool and they run in parallel: 100 runs out.
max_connections = 200
EOF
    fi
    bin="$(pg_bin_for_datadir "$dir/data")"

    log "starting local PostgreSQL on 127.0.0.1:$port (data in $PG_DIR)"
    # The port is given at start time, not written into the config, so a later run can
    # move the instance if the old port got taken in between.
    if ! as_pg_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$WAIT_SECS" \
        -o "-p $port" start >/dev/null; then
        tail -n 20 "$dir/postgres.log" >&2 || true
        die "local PostgreSQL did not start"
    fi
    printf '%s\n' "$port" >"$dir/port"
    PG_PORT="$port"
}

# Whether a project-local PostgreSQL was made here before (then it is the one to use).
local_pg_exists() {
    [[ -e "$PG_DIR" ]] && [[ -f "$(readlink -f "$PG_DIR")/data/PG_VERSION" ]]
}

# A Debian cluster on the standard port that is installed but stopped, as in a container
# without systemd where the package could not start it.
start_debian_cluster() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 1
    local ver name cport status rest
    while read -r ver name cport status rest; do
        [[ "$cport" == "$PG_STD_PORT" && "$status" == down* ]] || continue
        log "starting Debian cluster $ver/$name (port $PG_STD_PORT)"
        if pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2; then
            STARTED_CLUSTER="$ver $name"
            return 0
        fi
        log "could not start cluster $ver/$name"
    done < <(pg_lsclusters -h 2>/dev/null)
    return 1
}

stop_started_cluster() {
    [[ -n "$STARTED_CLUSTER" ]] || return 0
    local ver name
    read -r ver name <<<"$STARTED_CLUSTER"
    log "cluster $ver/$name wants a password on 127.0.0.1; stopping it again"
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop >&2 || true
    STARTED_CLUSTER=""
}

setup_postgres() {
    ensure_pg_client
    if truthy "${MEMLINK_FORCE_LOCAL:-}"; then
        [[ -z "${DATABASE_URL:-}" ]] || log "MEMLINK_FORCE_LOCAL is set: ignoring DATABASE_URL"
    elif [[ -n "${DATABASE_URL:-}" ]]; then
        if ! wait_for "PostgreSQL at $(redact "$DATABASE_URL")" pg_url_works "$DATABASE_URL"; then
            die "DATABASE_URL is set but does not answer: $(redact "$DATABASE_URL")"
        fi
        log "using DATABASE_URL=$(redact "$DATABASE_URL")"
        return
    elif local_pg_exists; then
        log "keeping to the project-local PostgreSQL made before ($PG_DIR)"
    else
        if pg_works_without_password "$PG_STD_PORT"; then
            DATABASE_URL="postgres://postgres@127.0.0.1:$PG_STD_PORT/postgres"
            log "using PostgreSQL already running on 127.0.0.1:$PG_STD_PORT"
            return
        fi
        if start_debian_cluster; then
            # Wait for "up" first, then ask once: a cluster that wants a password would
            # otherwise burn the whole wait before we move on.
            if wait_for "Debian cluster" pg_isready -q -t 1 -h 127.0.0.1 -p "$PG_STD_PORT" \
                && pg_works_without_password "$PG_STD_PORT"; then
                DATABASE_URL="postgres://postgres@127.0.0.1:$PG_STD_PORT/postgres"
                log "using Debian cluster on 127.0.0.1:$PG_STD_PORT"
                return
            fi
            stop_started_cluster
        fi
    fi

    start_local_pg
    wait_for "local PostgreSQL" pg_works_without_password "$PG_PORT" \
        || die "local PostgreSQL on port $PG_PORT does not accept connections (see $PG_DIR/postgres.log)"
    DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    log "using local PostgreSQL: $DATABASE_URL"
}

# --- Redis --------------------------------------------------------------------------------

redis_pid_alive() {
    local pid
    [[ -f "$REDIS_DIR/redis.pid" ]] || return 1
    pid="$(cat "$REDIS_DIR/redis.pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # Guard against a stale pidfile whose pid now belongs to something else (a system
    # Redis included): ours names its port in its process title.
    grep -q redis "/proc/$pid/comm" 2>/dev/null || return 1
    [[ -f "$REDIS_DIR/port" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ":$(cat "$REDIS_DIR/port")\b" || return 1
    printf '%s' "$pid"
}

start_local_redis() {
    local port
    if redis_pid_alive >/dev/null && [[ -f "$REDIS_DIR/port" ]]; then
        port="$(cat "$REDIS_DIR/port")"
        if [[ -n "${MEMLINK_REDIS_PORT:-}" && "$MEMLINK_REDIS_PORT" != "$port" ]]; then
            die "the local Redis in $REDIS_DIR already runs on port $port, not MEMLINK_REDIS_PORT=$MEMLINK_REDIS_PORT (scripts/services.sh stop first)"
        fi
        log "local Redis already running ($REDIS_DIR, port $port)"
        REDIS_PORT="$port"
        return
    fi

    ensure_redis_server
    # Preferably the port it had before, so a later run finds it where the first one left it.
    port="$(pick_port "${MEMLINK_REDIS_PORT:-}" "$(cat "$REDIS_DIR/port" 2>/dev/null || true)" "$REDIS_LOCAL_PORT")"
    if port_busy "$port"; then
        die "port $port is already taken; choose another MEMLINK_REDIS_PORT or set REDIS_URL"
    fi
    [[ -d "$DATA" ]] || mkdir -m 0755 "$DATA"
    mkdir -p "$REDIS_DIR"
    log "starting local Redis on 127.0.0.1:$port (data in $REDIS_DIR)"
    # appendonly: a developer's local instance should survive a restart with its streams.
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" \
        --dir "$REDIS_DIR" --appendonly yes \
        --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" </dev/null >&2 \
        || die "redis-server did not start (see $REDIS_DIR/redis.log)"
    printf '%s\n' "$port" >"$REDIS_DIR/port"
    REDIS_PORT="$port"
}

setup_redis() {
    ensure_redis_client
    if truthy "${MEMLINK_FORCE_LOCAL:-}"; then
        [[ -z "${REDIS_URL:-}" ]] || log "MEMLINK_FORCE_LOCAL is set: ignoring REDIS_URL"
    elif [[ -n "${REDIS_URL:-}" ]]; then
        if ! wait_for "Redis at $(redact "$REDIS_URL")" redis_ping -u "$REDIS_URL"; then
            die "REDIS_URL is set but does not answer PING: $(redact "$REDIS_URL")"
        fi
        log "using REDIS_URL=$(redact "$REDIS_URL")"
        return
    elif [[ -f "$REDIS_DIR/port" ]]; then
        log "keeping to the project-local Redis made before ($REDIS_DIR)"
    elif redis_ping -h 127.0.0.1 -p "$REDIS_STD_PORT"; then
        REDIS_URL="redis://127.0.0.1:$REDIS_STD_PORT"
        log "using Redis already running on 127.0.0.1:$REDIS_STD_PORT"
        return
    fi

    start_local_redis
    wait_for "local Redis" redis_ping -h 127.0.0.1 -p "$REDIS_PORT" \
        || die "local Redis on port $REDIS_PORT does not answer (see $REDIS_DIR/redis.log)"
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    log "using local Redis: $REDIS_URL"
}

# --- commands -----------------------------------------------------------------------------

print_exports() {
    local name value
    # On a terminal the lines are for reading, not for eval: keep passwords out of them.
    local show=cat
    if [[ -t 1 ]]; then show=redact_lines; fi
    for name in DATABASE_URL REDIS_URL MEMLINK_TEST_DATABASE_URL MEMLINK_TEST_REDIS_URL; do
        value="${!name}"
        printf 'export %s=%q\n' "$name" "$value"
    done | "$show"
}

redact_lines() {
    local line
    while IFS= read -r line; do redact "$line"; done
}

cmd_start() {
    setup_postgres
    setup_redis
    # The tests use these as admin connections (CREATE DATABASE per test), kept separate so a
    # developer can point the daemon and the tests at different servers.
    export DATABASE_URL REDIS_URL
    export MEMLINK_TEST_DATABASE_URL="$DATABASE_URL" MEMLINK_TEST_REDIS_URL="$REDIS_URL"
    print_exports
}

cmd_stop() {
    local dir bin pid i stopped=0
    if [[ -e "$PG_DIR" ]]; then
        dir="$(readlink -f "$PG_DIR")"
        # pg_ctl status, not just the pid file: after a crash the file is stale and
        # "stop" would fail on a server that is already gone.
        if [[ -f "$dir/data/postmaster.pid" ]] \
            && bin="$(pg_bin_for_datadir "$dir/data")" \
            && as_pg_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
            log "stopping local PostgreSQL ($PG_DIR)"
            as_pg_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t "$WAIT_SECS" stop >/dev/null \
                || die "pg_ctl stop failed"
            stopped=1
        fi
    fi
    if pid="$(redis_pid_alive)"; then
        log "stopping local Redis ($REDIS_DIR, pid $pid)"
        # SIGTERM is Redis' clean shutdown: it flushes the AOF before exiting.
        kill -TERM "$pid"
        for ((i = 0; i < WAIT_SECS * 2; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then die "Redis (pid $pid) did not exit"; fi
        stopped=1
    fi
    if [[ "$stopped" -eq 0 ]]; then log "no project-local instance running"; fi
}

case "${1:-start}" in
    start | env) cmd_start ;;
    stop) cmd_stop ;;
    linker) ensure_linker ;;
    test-tools) ensure_test_tools ;;
    browser) ensure_browser ;;
    -h | --help | help)
        sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
        ;;
    *) die "usage: scripts/services.sh [start|stop|linker|test-tools|browser]  (or: source scripts/services.sh)" ;;
esac
