#!/usr/bin/env bash
# The benchmark's bubblewrap. Debian bookworm's bwrap (0.8.0) cannot mount an
# overlay, so it cannot build the same view as fhs; 0.12.0 can. Its release
# tarball is trixie's orig tarball, fetched straight from the Debian
# archive's pool and checked against the sha256 pinned here, then built with
# meson into a cache outside the repository. apt's sources are not touched:
# no deb-src entry is added, even for a moment, so `apt-get source` on this
# machine answers afterwards exactly as before.
# Prints the path of the built bwrap. Needs root for apt-get install (curl
# and the build tools).
set -euo pipefail
VERSION=0.12.0
SHA256=9760d007363e3abba7c747489910f9f82d9fca53ba3bd3282e396fa3c97a3314
POOL=${FHS_BENCH_DEBIAN_POOL:-http://deb.debian.org/debian/pool/main}
cache=${FHS_BENCH_CACHE:-/var/cache/fhs-bench}/bwrap-src
bin="$cache/bubblewrap-$VERSION/_build/bwrap"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl meson ninja-build libcap-dev pkg-config >&2
mkdir -p "$cache"
cd "$cache"
tarball="bubblewrap_$VERSION.orig.tar.xz"
if [ ! -f "$tarball" ]; then
  curl -fsSL -o "$tarball.part" "$POOL/b/bubblewrap/$tarball"
  mv "$tarball.part" "$tarball"
fi
if ! echo "$SHA256  $tarball" | sha256sum -c --quiet - >&2; then
  rm -f "$tarball"
  echo "get-bwrap: $tarball: sha256 mismatch, removed" >&2
  exit 1
fi
rm -rf "bubblewrap-$VERSION"
tar xf "$tarball"
cd "bubblewrap-$VERSION"
meson setup _build -Dman=disabled -Dselinux=disabled -Dtests=false -Dbash_completion=disabled -Dzsh_completion=disabled >&2
ninja -C _build >&2
chmod -R a+rX "$cache"
echo "$bin"
