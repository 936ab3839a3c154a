#!/usr/bin/env bash
# CPU per relay pass: `perf stat` on the line3-udp daemons A, B and C during 4,000 pings
# 0.5 ms apart (task-clock divided by context switches: one switch per pass), then the
# same for a plain blocking UDP relay (the net benchmark's hop process) in the same run.
#
#   cargo bench -p ouro-benches --bench net --no-run && bash benches/scripts/pass-cpu.sh
#
# Environment: OURO_BIN (default target/release), OUROD (another ourod to compare).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${OURO_BIN:-$root/target/release}"
ourod="${OUROD:-$bin/ourod}"
run="$(mktemp -d "${TMPDIR:-/tmp}/ouro-pass.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT
for n in a b c; do
    "$ourod" --config "$root/examples/line3-udp/$n.toml" --socket "$run/$n.sock" 2>"$run/$n.log" &
    pids+=($!)
done
for n in a b c; do "$bin/ouro" --socket "$run/$n.sock" wait --enrolled --routes 2 --timeout 20; done
"$bin/ouro" --socket "$run/c.sock" echo pong >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do
    "$bin/ouro" --socket "$run/c.sock" names list 2>/dev/null | grep -q $'^pong\tnet\tlisteners 1' && break
    sleep 0.05
done
"$bin/ouro" --socket "$run/a.sock" ping pong -c 5 -i 0.01 -q >/dev/null
stats=()
for i in 0 1 2; do
    perf stat -e task-clock,context-switches -x, -o "$run/stat.$i" -p "${pids[$i]}" -- sleep 1.5 &
    stats+=($!)
done
"$bin/ouro" --socket "$run/a.sock" ping pong -c 4000 -i 0.0005 -q | tail -1
wait "${stats[@]}"
for i in 0 1 2; do
    awk -F, -v n="abc" -v i="$i" '/task-clock/{t=$1} /context-switches/{c=$1}
        END{printf "%s %.2f us/pass (%d passes)  ", substr(n, i + 1, 1), t * 1000 / c, c}' "$run/stat.$i"
done
echo
bench="$(ls -t "$root"/target/release/deps/net-* | grep -v '\.d$' | head -1)"
python3 "$(dirname "$0")/plain-relay-cpu.py" "$bench"
