// Launches through the sanitizer build of the launcher (AddressSanitizer +
// UndefinedBehaviorSanitizer, every report fatal: `make -C launcher san`):
// a plain launch that runs the policy in wasm3, a nested one that merges two
// ld.so.cache files, failing ones, and the crafted ld.so.cache whose version
// numbers overflowed the merge's comparison (ldcache-overflow). A report ends
// the launcher, so each test asserts the program's output and that stderr
// holds no sanitizer line.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { buildDir } from "../src/paths.js";
import { isRoot, repoRoot, runCli, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { makePackage, shellPackage, staticProgram } from "./helpers/wrapped.js";
import { LAUNCHER_EXIT } from "../src/abi.js";

const SANITIZER_LINE = /AddressSanitizer|runtime error|LeakSanitizer|UndefinedBehaviorSanitizer/;

let sanLauncher: string;
let probe: string;
let shellPkg: string;
let libc: string[];

before(() => {
  execFileSync("make", ["-s", "-C", join(repoRoot, "launcher"), "san"], { stdio: "inherit" });
  sanLauncher = join(testArtifacts().root, "fhs-launcher-san");
  copyFileSync(join(buildDir, "fhs-launcher-san"), sanLauncher);
  chmodSync(sanLauncher, 0o755);
  probe = staticProgram("sec-probe", join(repoRoot, "test/fixtures/security/probe.c"));
  ({ pkg: shellPkg, libc } = shellPackage());
});

/** The probe, wrapped with libc's layers (so wrap makes it an ld.so.cache) and the sanitizer launcher. */
function sanPackage(name: string): string {
  const pkg = makePackage({ "bin/probe": { from: probe } }, name);
  const r = runCli(["wrap", pkg, ...libc.flatMap((l) => ["--layer", l])], { env: { FHS_LAUNCHER: sanLauncher } });
  assert.equal(r.status, 0, r.stderr);
  if (isRoot) execFileSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, pkg]);
  return pkg;
}

/** glibc's ld.so.cache format ("glibc-ld.so.cache1.1"), little-endian x86-64 entries. */
function ldCache(entries: [key: string, value: string][]): Buffer {
  const header = 48, entry = 24;
  const strings: Buffer[] = [];
  let off = header + entries.length * entry;
  const out = Buffer.alloc(off);
  out.write("glibc-ld.so.cache1.1", 0, "latin1");
  out.writeUInt32LE(entries.length, 20);
  out[28] = 2; // little-endian, as ldconfig marks it
  entries.forEach(([k, v], i) => {
    const e = header + i * entry;
    out.writeInt32LE(0x0303, e); // FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
    out.writeUInt32LE(off, e + 4);
    off += Buffer.byteLength(k) + 1;
    out.writeUInt32LE(off, e + 8);
    off += Buffer.byteLength(v) + 1;
    strings.push(Buffer.from(`${k}\0${v}\0`));
  });
  const all = Buffer.concat([out, ...strings]);
  all.writeUInt32LE(all.length - header - entries.length * entry, 24);
  return all;
}

describe("sanitizer build: launches under ASan and UBSan", () => {
  it("a launch that runs the policy in wasm3", () => {
    const pkg = sanPackage("san-plain");
    const r = runUnprivileged([join(pkg, "usr/bin/probe")], { env: { FHS_PLAN_CACHE: "off" } });
    assert.doesNotMatch(r.stderr, SANITIZER_LINE);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `ran uid=${testUser.uid} euid=${testUser.uid}\n`);
  });

  it("a nested launch, which merges the package's ld.so.cache with the view's", () => {
    const pkg = sanPackage("san-nested");
    const runtime = testDir("fhs-runtime-");
    const r = runUnprivileged([join(shellPkg, "usr/bin/dash"), "-c", `${pkg}/usr/bin/probe`], { env: { XDG_RUNTIME_DIR: runtime } });
    assert.doesNotMatch(r.stderr, SANITIZER_LINE);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `ran uid=${testUser.uid} euid=${testUser.uid}\n`);
  });

  it("a failing launch: a FIFO as manifest", () => {
    const pkg = sanPackage("san-failing");
    const cache = join(pkg, ".fhs/manifest.bin");
    rmSync(cache);
    execFileSync("mkfifo", [cache]);
    const r = runUnprivileged([join(pkg, "usr/bin/probe")], { timeoutMs: 30_000 });
    assert.doesNotMatch(r.stderr, SANITIZER_LINE);
    assert.equal(r.status, LAUNCHER_EXIT.setup);
    assert.equal(r.stderr, `fhs: package ${pkg}: cannot read its manifest ${cache}: not a regular file\n`);
  });

  it("ldcache-overflow: a crafted ld.so.cache with 30-digit versions merges without undefined behaviour", () => {
    const pkg = sanPackage("san-ldcache");
    const file = join(pkg, ".fhs/ld.so.cache");
    assert.ok(existsSync(file), "wrap made no ld.so.cache");
    writeFileSync(file, ldCache([
      ["libfhs.so.999999999999999999999999999999", "/usr/lib/x86_64-linux-gnu/libfhs.so.999999999999999999999999999999"],
      ["libfhs.so.999999999999999999999999999998", "/usr/lib/x86_64-linux-gnu/libfhs.so.999999999999999999999999999998"],
      ["libfhs.so.0000000000000000000000000000001", "/usr/lib/x86_64-linux-gnu/libfhs.so.1"],
    ]));
    const runtime = testDir("fhs-runtime-");
    const r = runUnprivileged([join(shellPkg, "usr/bin/dash"), "-c", `${pkg}/usr/bin/probe`], { env: { XDG_RUNTIME_DIR: runtime } });
    assert.doesNotMatch(r.stderr, SANITIZER_LINE);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `ran uid=${testUser.uid} euid=${testUser.uid}\n`);
    // The union was made, and the loader's own reader accepts it in order.
    const union = execFileSync("find", [join(runtime, "fhs-plans"), "-name", "*.ld.so.cache"], { encoding: "utf8" }).trim();
    const listed = execFileSync("/sbin/ldconfig", ["-p", "-C", union], { encoding: "utf8" });
    const ours = listed.split("\n").filter((l) => l.includes("libfhs.so"));
    assert.deepEqual(ours.map((l) => l.trim().split(" ")[0]), [
      "libfhs.so.999999999999999999999999999999",
      "libfhs.so.999999999999999999999999999998",
      "libfhs.so.0000000000000000000000000000001",
    ]);
  });
});
