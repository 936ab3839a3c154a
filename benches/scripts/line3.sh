# Shared by flood.sh and pass-cpu.sh (sourced, not run): the three line3-udp daemons
# A — B — C started from CONFIGS (default examples/line3-udp), and a server on C.
# Sets root, bin, run and pids (the daemons first, A, B, C); everything stops at exit.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${OURO_BIN:-$root/target/release}"
run="$(mktemp -d "${TMPDIR:-/tmp}/ouro-line3.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT

# Start A, B and C (with $OUROD if set) and wait until each has routes to the other two.
start_line3() {
    local cfg="${CONFIGS:-$root/examples/line3-udp}" n
    for n in a b c; do
        "${OUROD:-$bin/ourod}" --config "$cfg/$n.toml" --socket "$run/$n.sock" 2>"$run/$n.log" &
        pids+=($!)
    done
    for n in a b c; do "$bin/ouro" --socket "$run/$n.sock" wait --enrolled --routes 2 --timeout 20; done
}

# serve_on_c NAME ARGS...: run `ouro ARGS...` on C and wait until NAME has its listener.
serve_on_c() {
    local name="$1"
    shift
    "$bin/ouro" --socket "$run/c.sock" "$@" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do
        "$bin/ouro" --socket "$run/c.sock" names list 2>/dev/null | grep -q $'^'"$name"$'\tnet\tlisteners 1' && return
        sleep 0.05
    done
    echo "no listener for $name on C" >&2
    return 1
}
