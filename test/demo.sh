#!/usr/bin/env bash
# The README's demo: what fhs does, end to end, on this machine.
# `npm ci` has built everything; test/setup.sh installs the Debian packages
# and the unprivileged user the demo runs programs as.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "fhs doctor: can this machine build and run views?"
node dist/cli.js doctor

npx tsx test/demo.ts
npx tsx test/demo-build.ts
