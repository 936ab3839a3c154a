#!/usr/bin/env bash
# One `ouro perf` flood A -> B -> C over the line3-udp daemons, with what each daemon
# counted (drops, marks, echoes) and the CPU ticks (1/100 s) each daemon used meanwhile.
#
#   bash benches/scripts/flood.sh [SIZE [SECS]]     # default 64-byte messages for 3 s
#
# Environment: OURO_BIN (default target/release), OUROD (another ourod to compare),
# CONFIGS (a directory with a.toml, b.toml, c.toml; default examples/line3-udp),
# PERF_NODE=a|b|c to `perf record` that daemon for 1.5 s into /tmp/ouro-flood.perf.
set -euo pipefail
source "$(dirname "$0")/line3.sh"
start_line3
serve_on_c sink perf --server sink
ticks() { for p in "${pids[@]:0:3}"; do awk '{printf "%d ", $14 + $15}' "/proc/$p/stat"; done; }
t0=$(ticks)
if [[ -n "${PERF_NODE:-}" ]]; then
    i=$(( $(printf 'a\nb\nc\n' | grep -n "^$PERF_NODE$" | cut -d: -f1) - 1 ))
    (sleep 1; perf record -F 2000 -g -o /tmp/ouro-flood.perf -p "${pids[$i]}" -- sleep 1.5 >/dev/null 2>&1) &
fi
"$bin/ouro" --socket "$run/a.sock" perf sink --size "${1:-64}" --duration "${2:-3}" --json | tail -1
echo "CPU ticks of a b c: $t0-> $(ticks)"
for n in a b c; do
    "$bin/ouro" --socket "$run/$n.sock" status --json | python3 -c '
import json, sys
def walk(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items(): walk(v, p + "." + k)
    elif isinstance(o, list):
        for i, v in enumerate(o): walk(v, p + "[%d]" % i)
    elif isinstance(o, (int, float)) and o and any(w in p for w in ("drop", "overflow", "crowded", "mark", "echo", "refused", "pause", "backlog_reports")):
        print(sys.argv[1], p, o)
walk(json.load(sys.stdin))' "$n"
done
