#!/usr/bin/env bash
# A — B — C over UDP on 127.0.0.1: start three ourod, wait until the layer has converged,
# serve `pong` on C, ping it from A through the relay B, print the summary, stop everything.
#
#   bash examples/line3-udp/run.sh            # builds the binaries (release) first
#   OURO_BIN=target/debug bash examples/line3-udp/run.sh   # use already-built binaries
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
count="${COUNT:-10}"

if [[ -z "${OURO_BIN:-}" ]]; then
    # (The first build takes minutes; it adds the wasm32-wasip2 target where it is missing.)
    echo "== building ourod and ouro (release)" >&2
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p ouro-daemon -p ouro-cli
    OURO_BIN="${CARGO_TARGET_DIR:-$root/target}/release"
fi
ourod="$OURO_BIN/ourod"
ouro="$OURO_BIN/ouro"

run="$(mktemp -d "${TMPDIR:-/tmp}/ouro-line3.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT

for n in a b c; do
    "$ourod" --config "$here/$n.toml" --socket "$run/$n.sock" 2>"$run/$n.log" &
    pids+=($!)
done

# Readiness: each daemon answers, is enrolled and has routes to both other nodes
# (`ouro wait` polls with a bounded timeout; no fixed sleeps).
for n in a b c; do
    if ! "$ouro" --socket "$run/$n.sock" wait --enrolled --routes 2 --timeout 20; then
        echo "node $n did not come up; its log:" >&2
        cat "$run/$n.log" >&2
        exit 1
    fi
done

"$ouro" --socket "$run/c.sock" echo pong 2>"$run/echo.log" &
pids+=($!)
# The echo server is ready once `pong` has a listener on C.
for _ in $(seq 200); do
    "$ouro" --socket "$run/c.sock" names list 2>/dev/null | grep -q $'^pong\tnet\tlisteners 1' && break
    sleep 0.05
done

echo "== ouro ping pong from A (through B to C)"
"$ouro" --socket "$run/a.sock" ping pong -c "$count" -i 0.2
echo
echo "== ouro status on the relay B"
"$ouro" --socket "$run/b.sock" status
