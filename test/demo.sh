#!/usr/bin/env bash
# The README's demo: what fhs does, end to end, on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "fhs doctor: can this machine build and run views?"
node dist/cli.js doctor

say "The launcher runs the layout policy in wasm3 (plan-only mode, echo request)"
printf 'req\0echo\0\0layer\0/nix/store/example-hello/usr\0fhs\0usr\0\0' \
  | build/fhs-launcher eval build/policy.wasm | tr '\0' ' '
echo
