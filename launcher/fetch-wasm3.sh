#!/usr/bin/env bash
# Fetches wasm3's C source for the launcher build.
#
# wasm3 has no npm or Debian package. The crates.io package wasm3x-sys carries
# its source (wasm3 0.9.0, the wasmi-labs fork). cargo downloads it, checking
# the checksum recorded in wasm3-fetch/Cargo.lock; this script checks the same
# pinned sha256 again before unpacking, so a changed lock file cannot slip a
# different source in. The result goes to launcher/.deps/ (git-ignored): no
# third-party code is ever committed.
set -euo pipefail

CRATE=wasm3x-sys
VERSION=0.2.1
SHA256=348492b8c2fb4902087770a26c3500e12b375e687a6d7f4155b7953a26ff8f7c

here=$(cd "$(dirname "$0")" && pwd)
dest="$here/.deps/$CRATE-$VERSION"
if [ -f "$dest/.verified" ]; then exit 0; fi

command -v cargo >/dev/null || { echo "fetch-wasm3: cargo is needed to fetch wasm3's source (crate $CRATE $VERSION)" >&2; exit 2; }

cargo fetch --locked --quiet --manifest-path "$here/wasm3-fetch/Cargo.toml"

cargo_home=${CARGO_HOME:-$HOME/.cargo}
crate_file=$(ls "$cargo_home"/registry/cache/*/"$CRATE-$VERSION.crate" 2>/dev/null | head -n 1 || true)
[ -n "$crate_file" ] || { echo "fetch-wasm3: cargo fetched, but $CRATE-$VERSION.crate is not in $cargo_home/registry/cache" >&2; exit 2; }

actual=$(sha256sum "$crate_file" | cut -d' ' -f1)
if [ "$actual" != "$SHA256" ]; then
  echo "fetch-wasm3: $crate_file: sha256 $actual, expected $SHA256" >&2
  exit 2
fi

tmp=$(mktemp -d "$here/.deps.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$crate_file" -C "$tmp"
[ -f "$tmp/$CRATE-$VERSION/wasm3/source/wasm3.h" ] || { echo "fetch-wasm3: $crate_file has no wasm3/source/wasm3.h" >&2; exit 2; }
touch "$tmp/$CRATE-$VERSION/.verified"
mkdir -p "$here/.deps"
rm -rf "$dest"
mv "$tmp/$CRATE-$VERSION" "$dest"
