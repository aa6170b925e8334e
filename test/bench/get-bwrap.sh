#!/usr/bin/env bash
# The benchmark's bubblewrap. Debian bookworm's bwrap (0.8.0) cannot mount an
# overlay, so it cannot build the same view as fhs; 0.12.0 can. Its release
# tarball comes from Debian's archive (trixie's source package), pinned by
# sha256, and is built with meson into a cache outside the repository.
# Prints the path of the built bwrap. Needs root for apt.
set -euo pipefail
VERSION=0.12.0
SHA256=9760d007363e3abba7c747489910f9f82d9fca53ba3bd3282e396fa3c97a3314
cache=${FHS_BENCH_CACHE:-/var/cache/fhs-bench}/bwrap-src
bin="$cache/bubblewrap-$VERSION/_build/bwrap"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
cd "$cache"
tarball="bubblewrap_$VERSION.orig.tar.xz"
if [ ! -f "$tarball" ]; then
  src=/etc/apt/sources.list.d/fhs-bench-trixie-src.sources
  if [ ! -f "$src" ]; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$src"
    apt-get update -qq >&2
  fi
  # Only the orig tarball is needed; a missing .dsc is not fatal.
  apt-get source --download-only "bubblewrap/trixie" >&2 || true
fi
echo "$SHA256  $tarball" | sha256sum -c --quiet - >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq meson ninja-build libcap-dev pkg-config >&2
rm -rf "bubblewrap-$VERSION"
tar xf "$tarball"
cd "bubblewrap-$VERSION"
meson setup _build -Dman=disabled -Dselinux=disabled -Dtests=false -Dbash_completion=disabled -Dzsh_completion=disabled >&2
ninja -C _build >&2
chmod -R a+rX "$cache"
echo "$bin"
