#!/usr/bin/env bash
# Run every test in the workspace against real PostgreSQL and Redis.
#   scripts/test.sh [args for `cargo test`...]    e.g. scripts/test.sh -p memlink-actors
#                                                  or   scripts/test.sh -- --nocapture
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# What building and the tests need besides the services (each only if missing): the C
# toolchain rustc links with, the tools some tests run (redis-server, promtool,
# systemd-analyze, initdb), and Chromium with chromedriver for the admin console's browser
# tests (tests/console_browser.rs). A test never skips for want of one: it fails, naming it.
scripts/services.sh linker
scripts/services.sh test-tools
scripts/services.sh browser

# shellcheck source=scripts/services.sh
source scripts/services.sh

export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

# --locked: a test run must never quietly resolve different dependency versions than the
# ones committed; without a lock file there is nothing to hold it to.
locked=()
if [[ -f Cargo.lock ]]; then locked=(--locked); fi

if [[ ! -d "${CARGO_TARGET_DIR:-target}/debug" ]]; then
    echo "test: first build of the workspace and its tests (several minutes on 2 cores; later runs reuse it)" >&2
fi

# One invocation covers lib, bins, integration tests and doc tests, and keeps extra args
# (filters, -p, -- --nocapture) meaningful; its exit code is ours.
exec cargo test --workspace "${locked[@]}" "$@"
