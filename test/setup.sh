#!/usr/bin/env bash
# Test prerequisites, run by `npm test` (as pretest) before the suite.
# As root (CI, a fresh machine) it installs the Debian packages the tests need
# and creates the unprivileged user that launcher tests drop to. As anyone
# else it only checks, and names what is missing.
set -euo pipefail

# util-linux: setpriv, unshare; bubblewrap: the benchmark baseline;
# file: test assertions on binaries; xz-utils, zstd, bzip2: source tarballs;
# nix-bin, nix-setup-systemd (its nixbld build users): test/nix.test.ts;
# libcap2-bin (setcap): test/security-launcher.test.ts; clang-14 and
# libclang-rt-14-dev (libFuzzer, sanitizer runtimes): test/fuzz.test.ts;
# attr (setfattr): overlay xattrs on fixture layers, test/reliability-cli.test.ts;
# openssh-server, openssh-client: a Nix remote builder on localhost, test/nix.test.ts;
# musl-tools: the static launcher is linked with musl when it is there
# (launcher/Makefile; install it before `npm ci` builds the launcher);
# strace: counts the launches of GNU hello's build in the benchmark's smoke
# (test/bench.test.ts).
DEB_PACKAGES=(util-linux bubblewrap file xz-utils zstd bzip2 dpkg-dev gcc libc6-dev nix-bin nix-setup-systemd libcap2-bin clang-14 libclang-rt-14-dev attr openssh-server openssh-client musl-tools strace)
TEST_USER=fhs-test
# The remote builder's user: its own Nix store in its home (test/nix.test.ts).
REMOTE_BUILD_USER=fhs-nixremote

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "$(id -u)" = 0 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  for user in "$TEST_USER" "$REMOTE_BUILD_USER"; do
    getent passwd "$user" >/dev/null || useradd --create-home --shell /bin/bash "$user"
  done
  # sshd refuses a locked account (useradd's "!" password) even to a key:
  # no password at all, but not locked.
  usermod -p '*' "$REMOTE_BUILD_USER"
else
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: these Debian packages are needed; as root run: apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

# `npm ci` builds everything (prepare); build again so that the suite always
# tests the current sources. Each step is incremental or takes seconds.
npm run --silent build
