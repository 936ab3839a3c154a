#!/usr/bin/env bash
# CPU per relay pass: `perf stat` on the line3-udp daemons A, B and C during 4,000 pings
# 0.5 ms apart (task-clock divided by context switches: one switch per pass), then the
# same for a plain blocking UDP relay (the net benchmark's hop process) in the same run.
#
#   cargo bench -p ouro-benches --bench net --no-run && bash benches/scripts/pass-cpu.sh
#
# Environment: OURO_BIN (default target/release), OUROD (another ourod to compare).
set -euo pipefail
source "$(dirname "$0")/line3.sh"
start_line3
serve_on_c pong echo pong
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
