// fhs conflicts on real Debian layers: packages that ship the same path, the
// real glibc against an older libc.so.6, a rebuilt zlib.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { checkConflicts } from "../src/conflicts.js";
import { readPolicyModule } from "../src/policy/validate.js";
import { inspectLayer } from "../src/layers.js";
import { defaultPolicyWasm, policiesDir } from "../src/paths.js";
import { loadConfig } from "../src/policy/config.js";
import { debLayers } from "./helpers/debian.js";
import { testDir } from "./helpers/env.js";
import { report } from "./helpers/report.js";

const layerArgs = (...dirs: string[]) => dirs.flatMap((d) => ["--layer", d]);
const multiarch = "usr/lib/x86_64-linux-gnu";

const [light, heavy, libc6, coreutils, zlib] = debLayers(["exim4-daemon-light", "exim4-daemon-heavy", "libc6", "coreutils", "zlib1g"]) as [string, string, string, string, string];
let oldLibc: string;
let rebuiltZlib: string;

before(() => {
  const root = testDir("fhs-conflicts-deb-");
  // An older C library: SONAME libc.so.6, but only the oldest version node.
  oldLibc = join(root, "oldlibc");
  mkdirSync(join(oldLibc, multiarch), { recursive: true });
  writeFileSync(join(root, "libc.c"), "int old_libc_symbol(void) { return 0; }\n");
  writeFileSync(join(root, "libc.map"), "GLIBC_2.2.5 { global: *; };\n");
  execFileSync("gcc", ["-shared", "-fPIC", "-nostdlib", "-o", join(oldLibc, multiarch, "libc.so.6"), "-Wl,-soname,libc.so.6", "-Wl,--version-script,libc.map", "libc.c"], { cwd: root });
  // zlib rebuilt: other bytes, same SONAME and version nodes.
  rebuiltZlib = join(root, "zlib");
  mkdirSync(join(rebuiltZlib, multiarch), { recursive: true });
  const real = execFileSync("readlink", [join(zlib, multiarch, "libz.so.1")], { encoding: "utf8" }).trim();
  execFileSync("objcopy", ["--remove-section", ".comment", "--add-section", ".note.rebuilt=/dev/null", join(zlib, multiarch, real), join(rebuiltZlib, multiarch, real)]);
  symlinkSync(real, join(rebuiltZlib, multiarch, "libz.so.1"));
});

describe("real Debian layers", () => {
  it("two packages that ship /usr/sbin/exim4: a file collision, the first layer wins", () => {
    const rep = report(["conflicts", ...layerArgs(light, heavy)], 0);
    const c = rep.conflicts.find((x) => x.path === "/usr/sbin/exim4");
    assert.ok(c, "no conflict on /usr/sbin/exim4");
    assert.equal(c.class, "file-collision");
    assert.equal(c.severity, "warning");
    assert.equal(c.winner.layer, light);
    assert.deepEqual(c.losers.map((l) => l.layer), [heavy]);
    // What both ship the same is identical, not a collision.
    assert.ok(rep.conflicts.some((x) => x.class === "identical"));
    const swapped = report(["conflicts", ...layerArgs(heavy, light)], 0).conflicts.find((x) => x.path === "/usr/sbin/exim4")!;
    assert.equal(swapped.winner.layer, heavy);
  });

  it("a path override turns the collision into an error, and the report says so", () => {
    const cfg = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8"));
    cfg.conflicts.overrides = [{ path: "/usr/sbin/exim*", severity: "error" }];
    const file = join(testDir("fhs-cfg-"), "config.json");
    writeFileSync(file, JSON.stringify(cfg));
    const rep = report(["conflicts", "--config", file, ...layerArgs(light, heavy)], 1);
    const c = rep.conflicts.find((x) => x.path === "/usr/sbin/exim4")!;
    assert.equal(c.severity, "error");
    assert.deepEqual(c.override, { glob: "/usr/sbin/exim*", classSeverity: "warning" });
    // The glob also matches the identical /usr/sbin/exim symlink both ship.
    const link = rep.conflicts.find((x) => x.path === "/usr/sbin/exim")!;
    assert.equal(link.class, "identical");
    assert.deepEqual([link.severity, link.override?.classSeverity], ["error", "ok"]);
    assert.equal(rep.conflicts.filter((x) => !x.override).every((x) => x.severity !== "error"), true);
  });

  it("an older libc.so.6 in front of Debian's glibc: real consumers need newer GLIBC_ nodes", () => {
    const rep = report(["conflicts", ...layerArgs(oldLibc, libc6, coreutils)], 1);
    const c = rep.conflicts.find((x) => x.path === `/${multiarch}/libc.so.6`)!;
    assert.equal(c.class, "diamond-incompatible");
    assert.equal(c.winner.layer, oldLibc);
    assert.equal(c.winner.soname, "libc.so.6");
    const ls = c.diamonds!.filter((d) => d.consumer === "/usr/bin/ls");
    assert.ok(ls.length > 0, "ls is not among the consumers");
    for (const d of ls) {
      assert.equal(d.consumerLayer, coreutils);
      assert.equal(d.soname, "libc.so.6");
      assert.match(d.version, /^GLIBC_2\.\d+/);
      assert.equal(d.loser, libc6);
    }
    const versions = new Set(ls.map((d) => d.version));
    assert.ok(!versions.has("GLIBC_2.2.5"), "the old libc defines GLIBC_2.2.5");
  });

  it("Debian's glibc in front: compatible shadowing", () => {
    const rep = report(["conflicts", ...layerArgs(libc6, oldLibc, coreutils)], 0);
    const c = rep.conflicts.find((x) => x.path === `/${multiarch}/libc.so.6`)!;
    assert.equal(c.class, "shadowed-compatible");
    assert.equal(c.severity, "info");
  });

  it("a rebuilt zlib: other bytes, same SONAME and version nodes: compatible", () => {
    const rep = report(["conflicts", ...layerArgs(rebuiltZlib, zlib)], 0);
    const byPath = new Map(rep.conflicts.map((c) => [c.path.split("/").pop(), c.class]));
    assert.equal(byPath.get("libz.so.1"), "identical");
    assert.equal([...byPath.entries()].find(([p]) => /^libz\.so\.1\.\d/.test(p!))?.[1], "shadowed-compatible");
  });

  it("check-install: installing the heavy daemon on top of the light one", () => {
    const rep = report(["check-install", heavy, "--into", light, "--into", libc6], 0);
    const c = rep.conflicts.find((x) => x.path === "/usr/sbin/exim4")!;
    assert.equal(c.winner.layer, heavy);
    assert.equal(c.class, "file-collision");
  });

  it("the same report however finely the policy input is chunked (needs sliced, answers merged)", async () => {
    const sources = [oldLibc, libc6, coreutils, rebuiltZlib, zlib, light, heavy].map((d) => ({ layer: inspectLayer(d), from: "layer" }));
    const run = (chunkBytes: number) =>
      checkConflicts({ sources, config: loadConfig(), policy: readPolicyModule(defaultPolicyWasm).bytes, policyName: "default", chunkBytes });
    const whole = await run(1 << 24);
    const fine = await run(2048);
    assert.equal(whole.stats.chunks, 1);
    assert.ok(fine.stats.chunks > 5, `only ${fine.stats.chunks} chunks`);
    assert.deepEqual(fine.report, whole.report);
    assert.ok(whole.report.conflicts.some((c) => c.class === "diamond-incompatible"));
  });
});
