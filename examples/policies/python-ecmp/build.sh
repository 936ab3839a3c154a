#!/usr/bin/env bash
# Build the Python routing policy into a component: ./build.sh OUT.wasm
# Needs componentize-py 0.25.1 (pip install componentize-py==0.25.1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/python_ecmp.wasm}"
cd "$here"
componentize-py -d ../../../wit -w ouro:policy/routing componentize app --stub-wasi -o "$out"
