// The named bad-input and fault suite: one describe per class of defect, named
// after it as flatpak and runc name theirs. Every launch runs as the
// unprivileged test user through a real wrapper of a static program
// (test/fixtures/faults/world.c), and every test asserts the exit code, the
// one line the launcher prints, whether the program ran (its own line on
// stdout), and that the caller's world holds no residue: its mount table, the
// launch's processes, the plan cache's temp files (test/helpers/residue.ts).
// docs/RELIABILITY.md maps each class to its tests, here and elsewhere.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, describe, it } from "node:test";
import { compilePolicy } from "../src/policy/compile.js";
import { isRoot, repoRoot, runCli, runUnprivileged, testDir, testUser, type RunOptions } from "./helpers/env.js";
import { assertNoResidue, world } from "./helpers/residue.js";
import { callerMounts, makePackage, staticProgram, syntheticLayers, wrapPackage } from "./helpers/wrapped.js";
import { LAUNCHER_EXIT, MANIFEST_FORMAT } from "../src/abi.js";


let prog: string;
before(() => {
  prog = staticProgram("fault-world", join(repoRoot, "test/fixtures/faults/world.c"));
});

/** A package holding the world program as bin/world, wrapped with `deps` as layers. */
function worldPackage(name: string, deps: string[] = []): string {
  return wrapPackage(makePackage({ "bin/world": { from: prog } }, name), deps);
}
const wrapper = (pkg: string) => join(pkg, "usr/bin/world");

/** A dependency layer (FHS layout) holding usr/share/NAME/marker, at `dir` if given. */
function markerLayer(name: string, dir = join(testDir(`fhs-${name}-`), name)): string {
  mkdirSync(join(dir, "usr/share", name), { recursive: true });
  writeFileSync(join(dir, "usr/share", name, "marker"), `${name}\n`);
  if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, dirname(dir)]);
  return dir;
}

/** A launch as the test user with a runtime dir (plan cache) of its own. */
function launch(argv: string[], runtime: string, opts: RunOptions = {}) {
  return runUnprivileged(argv, { ...opts, env: { XDG_RUNTIME_DIR: runtime, ...opts.env } });
}

/** The launch failed closed: `code`, exactly `line`, and the program never ran. */
function assertRefused(r: ReturnType<typeof launch>, code: number, line: string): void {
  assert.equal(r.status, code, r.stderr);
  assert.equal(r.stderr, `fhs: ${line}\n`);
  assert.equal(r.stdout, "", "the program ran");
}

/** A compiled manifest's records as byte strings, and back. */
function readRecords(file: string): Buffer[][] {
  const bytes = readFileSync(file);
  const recs: Buffer[][] = [];
  let rec: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (i === start) {
      recs.push(rec);
      rec = [];
    } else rec.push(bytes.subarray(start, i));
    start = i + 1;
  }
  return recs;
}
function writeRecords(file: string, recs: Buffer[][]): void {
  const nul = Buffer.alloc(1);
  writeFileSync(file, Buffer.concat(recs.flatMap((r) => [...r.flatMap((f) => [f, nul]), nul])));
}
const manifestOf = (pkg: string) => join(pkg, ".fhs/manifest.bin");
/** The manifest's record for layer `path`. */
function layerRecord(recs: Buffer[][], path: string): Buffer[] {
  const r = recs.find((x) => x[0]!.toString() === "layer" && x[1]!.toString() === path);
  assert.ok(r, `no layer record for ${path}`);
  return r;
}

/** A program started as the test user that keeps running until told (world hold). */
function hold(argv: string[], runtime: string) {
  const full = isRoot ? ["/usr/bin/setpriv", `--reuid=${testUser.uid}`, `--regid=${testUser.gid}`, "--clear-groups", "--", ...argv] : argv;
  const child = spawn(full[0]!, full.slice(1), { env: { PATH: "/usr/bin:/bin", XDG_RUNTIME_DIR: runtime }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    async started(): Promise<void> {
      for (let i = 0; i < 300 && !stdout.includes("opened\n"); i++) {
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(stdout, "opened\n", `the program did not start: ${stderr}`);
    },
  };
}

const hex = (s: string | Buffer) => (Buffer.from(s).length ? Buffer.from(s).toString("hex") : "-");

// ------------------------------------------------------------------ layers

describe("layer-odd-path: layer paths with spaces, commas, colons, newlines or non-UTF-8 bytes", () => {
  it("a path with a space, a comma, a colon and a newline reaches overlay intact through every mount path", () => {
    const odd = markerLayer("odd", join(testDir("fhs-odd-"), "a b,c:d\ne"));
    const pkg = worldPackage("odd-pkg", [odd]);
    for (const api of ["", "path", "legacy"]) {
      const runtime = testDir("fhs-runtime-");
      const before = world(runtime);
      const r = launch([wrapper(pkg), "exists", "/usr/share/odd/marker"], runtime, { env: { FHS_MOUNT_API: api } });
      assert.equal(r.status, 0, `${api}: ${r.stderr}`);
      assert.equal(r.stdout, "exists yes\n", api);
      assert.equal(r.stderr, "");
      assertNoResidue(before, { cacheMayGrow: true });
    }
  });

  it("a path that is not UTF-8 is refused before anything is mounted (the policy reads UTF-8; the plan names another path)", () => {
    const parent = testDir("fhs-odd-bytes-");
    const ascii = markerLayer("bytes", join(parent, "XX-layer"));
    const pkg = worldPackage("odd-bytes-pkg", [ascii]);
    const raw = Buffer.concat([Buffer.from(`${parent}/`), Buffer.from([0xff, 0xfe]), Buffer.from("-layer")]);
    renameSync(ascii, raw);
    const recs = readRecords(manifestOf(pkg));
    layerRecord(recs, ascii)[1] = raw;
    writeRecords(manifestOf(pkg), recs);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    // Twice: a refused answer is never cached, so the second launch asks the
    // policy again and is refused in the same words, naming the policy.
    for (let i = 0; i < 2; i++) {
      const r = launch([wrapper(pkg), "exists", "/usr/share/bytes/marker"], runtime);
      assertRefused(r, LAUNCHER_EXIT.plan, `policy ${pkg}/.fhs/policy.wasm: plan op 'overlay /usr' refused: a lower layer is not one of the manifest's or the current view's layers`);
    }
    assertNoResidue(before);
  });
});

describe("layer-duplicate: a layer named twice is one layer", () => {
  it("fhs wrap lists it once; a manifest naming it twice still makes a working view", () => {
    const dep = markerLayer("dup");
    const pkg = worldPackage("dup-pkg", [dep, dep]);
    const layers = (JSON.parse(readFileSync(join(pkg, ".fhs/manifest.json"), "utf8")) as { layers: { path: string }[] }).layers.map((l) => l.path);
    assert.deepEqual(layers.filter((l) => l === dep), [dep]);
    const recs = readRecords(manifestOf(pkg));
    const at = recs.indexOf(layerRecord(recs, dep));
    recs.splice(at, 0, [...recs[at]!]);
    writeRecords(manifestOf(pkg), recs);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([wrapper(pkg), "exists", "/usr/share/dup/marker"], runtime);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "exists yes\n");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});


describe("layer-cap: a view of more than 500 layers is refused, never cut", () => {
  it("refused at wrap; and at launch when a nested view adds up past 500", () => {
    const synth = syntheticLayers(600);
    const tooWide = makePackage({ "bin/world": { from: prog } }, "too-wide");
    const w = runCli(["wrap", tooWide, ...synth.slice(0, 501).flatMap((l) => ["--layer", l])]);
    assert.equal(w.status, 2);
    assert.equal(w.stderr, `fhs: package ${tooWide}: needs 503 layers; OverlayFS allows at most 500 in one view\n`);
    assert.ok(!existsSync(join(tooWide, ".fhs")), "a refused wrap left .fhs behind");
    const outer = worldPackage("outer", synth.slice(0, 200));
    const inner = worldPackage("inner", synth.slice(200, 600));
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([wrapper(outer), "exec", wrapper(inner)], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.policy, r.stderr);
    assert.equal(r.stderr, `fhs: policy ${inner}/.fhs/policy.wasm refused the launch: the view needs 604 layers; OverlayFS allows at most 500\n`);
    assert.equal(r.stdout, "", "the inner program ran");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("layer-legacy-page: a view past legacy mount(2)'s one page of options is refused, never cut", () => {
  it("300 layers through FHS_MOUNT_API=legacy: 125, one line; the same package runs with the new mount API", () => {
    const pkg = worldPackage("legacy-wide", syntheticLayers(300));
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([wrapper(pkg)], runtime, { env: { FHS_MOUNT_API: "legacy" } });
    assertRefused(r, LAUNCHER_EXIT.setup, "overlay /usr: 302 layers do not fit in mount(2)'s one page of options; this kernel lacks fsconfig lowerdir+ (Linux >= 6.8)");
    assertNoResidue(before, { cacheMayGrow: true });
    const ok = launch([wrapper(pkg)], runtime);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "ran argc=1\n");
  });
});

// -------------------------------------------- manifest, policy, environment

describe("manifest-bad-input: a damaged compiled manifest fails closed, naming the file", () => {
  /** Each case edits the package's manifest.bin; then a launch must give `code` and `line`. */
  const cases: { name: string; code: number; policyRan?: boolean; edit: (recs: Buffer[][], pkg: string, dep: string) => Buffer[][] | Buffer; line: (pkg: string, dep: string) => string }[] = [
    {
      name: "manifest-truncated: cut inside a record",
      code: LAUNCHER_EXIT.setup,
      edit: (recs) => {
        const whole = Buffer.concat(recs.flatMap((r) => [...r.flatMap((f) => [f, Buffer.alloc(1)]), Buffer.alloc(1)]));
        return whole.subarray(0, Math.floor(whole.length / 2));
      },
      line: (pkg) => `package ${pkg}: ${pkg}/.fhs/manifest.bin is not a compiled fhs manifest`,
    },
    {
      name: "manifest-truncated: the last byte cut",
      code: LAUNCHER_EXIT.setup,
      edit: (recs) => Buffer.concat(recs.flatMap((r) => [...r.flatMap((f) => [f, Buffer.alloc(1)]), Buffer.alloc(1)])).subarray(0, -1),
      line: (pkg) => `package ${pkg}: ${pkg}/.fhs/manifest.bin is not a compiled fhs manifest`,
    },
    {
      name: "manifest-truncated: empty",
      code: LAUNCHER_EXIT.setup,
      edit: () => Buffer.alloc(0),
      line: (pkg) => `package ${pkg}: ${pkg}/.fhs/manifest.bin is not a compiled fhs manifest`,
    },
    {
      // Still a well-formed record stream: only the end record says it is whole.
      name: "manifest-truncated: cut at a record boundary, after the first layer",
      code: LAUNCHER_EXIT.setup,
      edit: (recs) => recs.slice(0, recs.findIndex((r) => r[0]!.toString() === "layer") + 1),
      line: (pkg) => `package ${pkg}: ${pkg}/.fhs/manifest.bin does not end with its end record: it was cut short; wrap the package again`,
    },
    {
      name: "manifest-truncated: only the end record lost",
      code: LAUNCHER_EXIT.setup,
      edit: (recs) => recs.slice(0, -1),
      line: (pkg) => `package ${pkg}: ${pkg}/.fhs/manifest.bin does not end with its end record: it was cut short; wrap the package again`,
    },
    {
      name: "manifest-bad-types: records after the end record",
      code: LAUNCHER_EXIT.setup,
      edit: (recs, _pkg, dep) => {
        const layer = layerRecord(recs, dep);
        const rest = recs.filter((r) => r !== layer);
        return [...rest, layer, [Buffer.from("end")]];
      },
      line: (pkg) => `package ${pkg}: ${pkg}/.fhs/manifest.bin holds records after its end record; wrap the package again`,
    },
    {
      name: "manifest-bad-types: another format version",
      code: LAUNCHER_EXIT.setup,
      edit: (recs) => [[Buffer.from("fhs-manifest"), Buffer.from(String(MANIFEST_FORMAT + 1))], ...recs.slice(1)],
      line: (pkg) =>
        `package ${pkg}: ${pkg}/.fhs/manifest.bin is manifest format ${MANIFEST_FORMAT + 1}; this launcher reads format ${MANIFEST_FORMAT}: wrap the package again`,
    },
    {
      name: "manifest-bad-types: a layer record missing a field",
      policyRan: true,
      code: LAUNCHER_EXIT.policy,
      edit: (recs, _pkg, dep) => {
        layerRecord(recs, dep).pop();
        return recs;
      },
      line: (pkg) => `policy ${pkg}/.fhs/policy.wasm refused the launch: unexpected input record: layer with 2 fields`,
    },
    {
      name: "manifest-bad-types: a layer of an unknown layout",
      policyRan: true,
      code: LAUNCHER_EXIT.plan,
      edit: (recs, _pkg, dep) => {
        layerRecord(recs, dep)[2] = Buffer.from("zip");
        return recs;
      },
      line: (pkg) => `policy ${pkg}/.fhs/policy.wasm: plan op 'overlay /usr' refused: a lower layer is not one of the manifest's or the current view's layers`,
    },
    {
      name: "manifest-bad-types: a relative layer path",
      code: LAUNCHER_EXIT.setup,
      edit: (recs, _pkg, dep) => {
        layerRecord(recs, dep)[1] = Buffer.from(dep.slice(1));
        return recs;
      },
      line: (_pkg, dep) => `layer ${dep.slice(1)}: not a normalized absolute path (it has an empty, '.' or '..' component)`,
    },
    {
      name: "manifest-bad-types: a policy record without its hash",
      code: LAUNCHER_EXIT.setup,
      edit: (recs) => {
        recs.find((r) => r[0]!.toString() === "policy")!.pop();
        return recs;
      },
      line: (pkg) => `${pkg}/.fhs/manifest.bin names no policy`,
    },
    {
      name: "manifest-invalid-utf8: a layer path ending in half a character",
      policyRan: true,
      code: LAUNCHER_EXIT.plan,
      edit: (recs, _pkg, dep) => {
        const r = layerRecord(recs, dep);
        r[1] = Buffer.concat([r[1]!, Buffer.from([0xc3])]);
        return recs;
      },
      line: (pkg) => `policy ${pkg}/.fhs/policy.wasm: plan op 'overlay /usr' refused: a lower layer is not one of the manifest's or the current view's layers`,
    },
    {
      name: "manifest-nul: a NUL inside a layer path splits the record",
      policyRan: true,
      code: LAUNCHER_EXIT.policy,
      edit: (recs, _pkg, dep) => {
        const r = layerRecord(recs, dep);
        const cut = r[1]!.lastIndexOf("/");
        r.splice(1, 1, r[1]!.subarray(0, cut), r[1]!.subarray(cut + 1));
        return recs;
      },
      line: (pkg) => `policy ${pkg}/.fhs/policy.wasm refused the launch: unexpected input record: layer with 4 fields`,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const dep = markerLayer("mdep");
      const pkg = worldPackage("bad-manifest", [dep]);
      const edited = c.edit(readRecords(manifestOf(pkg)), pkg, dep);
      if (Buffer.isBuffer(edited)) writeFileSync(manifestOf(pkg), edited);
      else writeRecords(manifestOf(pkg), edited);
      const runtime = testDir("fhs-runtime-");
      const before = world(runtime);
      const r = launch([wrapper(pkg)], runtime);
      assertRefused(r, c.code, c.line(pkg, dep));
      // A plan the validator refuses may be cached: it is refused again on every use.
      assertNoResidue(before, { cacheMayGrow: c.policyRan });
    });
  }
});

describe("policy-hash-mismatch: a policy module changed after wrap is refused before it runs", () => {
  it("one byte of policy.wasm changed: 122, the two hashes named", () => {
    const pkg = worldPackage("hash-pkg");
    const file = join(pkg, ".fhs/policy.wasm");
    const bytes = readFileSync(file);
    const want = createHash("sha256").update(bytes).digest("hex");
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(file, bytes);
    const got = createHash("sha256").update(bytes).digest("hex");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    assertRefused(launch([wrapper(pkg)], runtime), LAUNCHER_EXIT.policy, `policy ${file}: sha256 ${got} does not match the manifest's ${want}: the module changed after wrap`);
    assertNoResidue(before);
  });

  it("changed after a launch cached its plan, its mtime put back: the cache misses and the launch is refused (122)", () => {
    const pkg = worldPackage("hash-cached-pkg");
    const file = join(pkg, ".fhs/policy.wasm");
    const runtime = testDir("fhs-runtime-");
    // Whole seconds, so the same mtime can be put back exactly.
    utimesSync(file, 1_000_000_000, 1_000_000_000);
    const first = launch([wrapper(pkg)], runtime);
    assert.equal(first.status, 0, first.stderr);
    // A plan is cached: a hit would not read the module at all.
    assert.ok(readdirSync(join(runtime, "fhs-plans")).length > 0, "no plan was cached");
    const bytes = readFileSync(file);
    const want = createHash("sha256").update(bytes).digest("hex");
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(file, bytes);
    // Same size, same mtime: only the ctime (which no user can set) tells.
    utimesSync(file, 1_000_000_000, 1_000_000_000);
    assert.equal(statSync(file).mtimeMs, 1_000_000_000_000);
    const got = createHash("sha256").update(bytes).digest("hex");
    assertRefused(launch([wrapper(pkg)], runtime), LAUNCHER_EXIT.policy, `policy ${file}: sha256 ${got} does not match the manifest's ${want}: the module changed after wrap`);
  });
});

describe("policy-hostile-launch: a hostile policy in a package fails the launch closed", () => {
  const hostile: [string, RegExp][] = [
    ["loop", /^evaluation exceeded its 1000 ms deadline$/],
    ["grow", /^trapped in fhs_eval: unreachable executed$/],
    ["recurse", /^trapped in fhs_eval: stack overflow$/],
    ["garbage", /^result buffer out of bounds \(ptr 4294963200, len 4096, memory 65536 bytes\)$/],
    ["oob", /^trapped in fhs_eval: out of bounds memory access$/],
  ];
  for (const [name, cause] of hostile) {
    it(`${name}: 122, one line naming the package's policy; no plan cached, nothing run or mounted`, async () => {
      const pkg = worldPackage(`hostile-${name}`);
      const file = join(pkg, ".fhs/policy.wasm");
      const old = createHash("sha256").update(readFileSync(file)).digest("hex");
      await compilePolicy(join(repoRoot, "test/fixtures/hostile", `${name}.ts`), file);
      const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
      // The manifest names the new module's hash: only the module is hostile.
      writeFileSync(manifestOf(pkg), Buffer.from(readFileSync(manifestOf(pkg)).toString("latin1").replace(old, sha), "latin1"));
      if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, pkg]);
      const runtime = testDir("fhs-runtime-");
      const before = world(runtime);
      const r = launch([wrapper(pkg)], runtime, { timeoutMs: 20_000 });
      assert.equal(r.status, LAUNCHER_EXIT.policy, r.stderr);
      assert.equal(r.stdout, "", "the program ran");
      const prefix = `fhs: policy ${file}: `;
      assert.ok(r.stderr.startsWith(prefix) && r.stderr.endsWith("\n") && r.stderr.split("\n").length === 2, r.stderr);
      assert.match(r.stderr.slice(prefix.length, -1), cause);
      assertNoResidue(before);
    });
  }
});

describe("env-forged-marker: IN_NIX_FHS set by the caller does not make a launch impure", () => {
  it("forged values outside a view: the view is made as usual, the host's /usr unseen", () => {
    const witness = ["/usr/bin/perl", "/usr/bin/python3", "/usr/bin/env"].find((f) => existsSync(f))!;
    const dep = markerLayer("forged");
    const pkg = worldPackage("forged-pkg", [dep]);
    for (const forged of ["1", "0123456789abcdef", "../../etc"]) {
      const runtime = testDir("fhs-runtime-");
      const before = world(runtime);
      const a = launch([wrapper(pkg), "exists", "/usr/share/forged/marker"], runtime, { env: { IN_NIX_FHS: forged } });
      const b = launch([wrapper(pkg), "exists", witness], runtime, { env: { IN_NIX_FHS: forged } });
      assert.equal(a.status, 0, a.stderr);
      assert.equal(a.stdout, "exists yes\n", forged);
      assert.equal(b.stdout, "exists no\n", `${forged}: the host's ${witness} is in the view`);
      assertNoResidue(before, { cacheMayGrow: true });
    }
  });
});

describe("env-hostile-loader: LD_PRELOAD and LD_LIBRARY_PATH do not reach into the launcher", () => {
  it("a preload that would run code and a broken libc on the library path: the static launcher runs as usual and passes both on", () => {
    const dir = testDir("fhs-preload-");
    const mark = join(dir, "preloaded");
    writeFileSync(join(dir, "evil.c"), `#include <stdio.h>\n__attribute__((constructor)) static void evil(void) { FILE *f = fopen("${mark}", "a"); if (f) { fputs("ran\\n", f); fclose(f); } }\n`);
    execFileSync("cc", ["-shared", "-fPIC", "-o", join(dir, "evil.so"), join(dir, "evil.c")]);
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib/libc.so.6"), "not a library\n");
    if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, dir]);
    // The premise: the preload does run in a dynamic program.
    assert.equal(runUnprivileged(["/bin/true"], { env: { LD_PRELOAD: join(dir, "evil.so") } }).status, 0);
    assert.equal(readFileSync(mark, "utf8"), "ran\n");
    rmSync(mark);
    const pkg = worldPackage("preload-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const env = { LD_PRELOAD: join(dir, "evil.so"), LD_LIBRARY_PATH: join(dir, "lib") };
    // Set by env(1) for the wrapper alone: the dynamic tools that start it must not load them.
    const r = launch(["/usr/bin/env", `LD_PRELOAD=${env.LD_PRELOAD}`, `LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}`, wrapper(pkg), "env", "LD_PRELOAD", "LD_LIBRARY_PATH"], runtime);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, `LD_PRELOAD=${env.LD_PRELOAD}\nLD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}\n`);
    assert.ok(!existsSync(mark), "the preload ran in the launcher");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

// -------------------------------------------------------- the program's world

describe("argv-games: what the caller passes is what the program gets", () => {
  it("argc == 0: the kernel's empty argv[0] reaches the program, which runs as it would without fhs", () => {
    const pkg = worldPackage("argc0-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const direct = launch([prog, "caller", "--argc0", "--", prog], runtime);
    const r = launch([prog, "caller", "--argc0", "--", wrapper(pkg)], runtime);
    assert.equal(direct.stdout, "ran argc=1\n");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, direct.stdout);
    assertNoResidue(before, { cacheMayGrow: true });
  });

  it("an argv[0] of another name, empty arguments, newlines, bytes that are not UTF-8, an argument of 100,000 bytes", () => {
    const pkg = worldPackage("argv-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const script = `exec -a renamed "$0" argv "" "$(printf 'a\\nb')" "$(printf '\\377\\376')" "$(head -c 100000 /dev/zero | tr '\\0' x)"`;
    const direct = launch(["bash", "-c", script, prog], runtime);
    const r = launch(["bash", "-c", script, wrapper(pkg)], runtime);
    const expected = `argv 6 ${hex("renamed")} ${hex("argv")} - ${hex("a\nb")} fffe ${"78".repeat(100000)}\n`;
    assert.equal(direct.stdout, expected);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, expected);
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("nesting-userns-cap: a launch past the kernel's user-namespace nesting cap fails clearly", () => {
  it("started as deep as the kernel allows: 125, one line, never hangs", () => {
    const pkg = worldPackage("deep-pkg");
    const dir = testDir("fhs-deep-");
    const descend = join(dir, "at-cap.sh");
    // One namespace more each time, until the kernel refuses the next: then
    // the wrapper runs at the cap.
    writeFileSync(descend, '#!/bin/sh\nif unshare -U -r true 2>/dev/null; then exec unshare -U -r "$0" "$@"; fi\nexec "$@"\n', { mode: 0o755 });
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([descend, wrapper(pkg)], runtime, { timeoutMs: 60_000 });
    assertRefused(r, LAUNCHER_EXIT.setup, "cannot create a user namespace: the kernel's nesting limit (32 levels) is reached");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("fd-passing: the caller's fds reach the program, the launcher's own never do", () => {
  it("fd 7 passed in: the program sees exactly the caller's fds, outside a view, nested and on the fast path", () => {
    const a = worldPackage("fds-a");
    const b = worldPackage("fds-b");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const fds = (argv: string[]) => {
      const r = launch([prog, "caller", "--fd", "7", "--", ...argv], runtime);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const direct = fds([prog, "fds"]);
    assert.match(direct, /^fds 0 1 2( \d+)* 7( \d+)*\n$/);
    assert.equal(fds([wrapper(a), "fds"]), direct, "outside a view");
    assert.equal(fds([wrapper(a), "exec", wrapper(b), "fds"]), direct, "nested");
    assert.equal(fds([wrapper(a), "exec", wrapper(a), "fds"]), direct, "fast path");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("cwd-odd: a working directory that cannot be entered in the view fails clearly", () => {
  it("a cwd removed before the launch: 125, one line", () => {
    const pkg = worldPackage("cwd-gone");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([prog, "caller", "--deleted-cwd", join(testDir("fhs-cwd-"), "gone"), "--", wrapper(pkg), "cwd"], runtime);
    assertRefused(r, LAUNCHER_EXIT.setup, "the working directory was removed; change to one that exists");
    assertNoResidue(before);
  });

  it("a cwd the view does not hold (a host-only dir under /usr): 125, one line; a host dir the view binds is kept", () => {
    const pkg = worldPackage("cwd-host");
    const hostOnly = existsSync("/usr/local/lib") ? "/usr/local/lib" : "/usr/local";
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([wrapper(pkg), "cwd"], runtime, { cwd: hostOnly });
    assertRefused(r, LAUNCHER_EXIT.setup, `the working directory ${hostOnly} does not exist in the view: No such file or directory`);
    const here = testDir("fhs-cwd-");
    const ok = launch([wrapper(pkg), "cwd"], runtime, { cwd: here });
    assert.equal(ok.stdout, `cwd ${here}\n`, ok.stderr);
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("exit-status: exit codes and signal deaths pass through unchanged", () => {
  it("exit 0, 1, 42, 255 and death by SIGTERM, SIGSEGV, SIGKILL; outside a view and nested", () => {
    const a = worldPackage("exit-a");
    const b = worldPackage("exit-b");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    for (const via of [[wrapper(a)], [wrapper(a), "exec", wrapper(b)]]) {
      for (const code of [0, 1, 42, 255]) {
        const r = launch([...via, "exit", String(code)], runtime);
        assert.equal(r.status, code, `${via.length}: ${r.stderr}`);
        assert.equal(r.stderr, "");
      }
      for (const [n, name] of [[15, "SIGTERM"], [11, "SIGSEGV"], [9, "SIGKILL"]] as const) {
        const r = launch([...via, "kill", String(n)], runtime);
        assert.equal(r.signal, name, r.stderr);
        assert.equal(r.stderr, "");
      }
    }
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("sigchld-ignored: a caller that ignores SIGCHLD", () => {
  it("the launch works and the program inherits SIGCHLD ignored, as exec keeps it", () => {
    const pkg = worldPackage("sigchld-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([prog, "caller", "--ignore-sigchld", "--", wrapper(pkg), "sigchld"], runtime);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "sigchld ignored\n");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("stdout-closed: a caller with fd 1 closed", () => {
  it("the launcher takes no fd of its own into the program's fd 1: the program finds it closed", () => {
    const pkg = worldPackage("stdout-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    for (const cache of ["off", ""]) {
      const r = launch([prog, "caller", "--close-stdout", "--", wrapper(pkg), "stdout"], runtime, { env: { FHS_PLAN_CACHE: cache } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "stdout Bad file descriptor\n");
      assert.equal(r.stdout, "");
    }
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("view-erofs: /usr is read-only in a view, / no more writable than it was; host dirs stay writable", () => {
  it("writes to /usr fail with EROFS, to / as they would on the host; a write to a host dir persists after the program", () => {
    const pkg = worldPackage("erofs-pkg");
    const runtime = testDir("fhs-runtime-");
    const out = join(testDir("fhs-out-"), "written");
    const before = world(runtime);
    // In place (this merged-/usr host), / is the caller's own root: as writable as it was (not at all, to the user).
    for (const [path, said] of [["/usr/x", "write Read-only file system"], ["/x", "write Permission denied"], [out, "write ok"]]) {
      const r = launch([wrapper(pkg), "write", path!], runtime);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${said}\n`, path);
    }
    assert.equal(readFileSync(out, "utf8"), "written\n");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("no-userns-host: a host without unprivileged user namespaces gets the remedy", () => {
  it("user namespaces forbidden to the caller (as by a sysctl, AppArmor or a seccomp profile): 125, the remedy", () => {
    const pkg = worldPackage("nouserns-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    // The premise: the filter forbids what the sysctls forbid.
    assert.equal(launch([prog, "caller", "--no-userns", "--", "/usr/bin/unshare", "-U", "true"], runtime).status, 1);
    const r = launch([prog, "caller", "--no-userns", "--", wrapper(pkg)], runtime);
    assertRefused(
      r,
      LAUNCHER_EXIT.setup,
      "cannot create a user namespace: this host does not let unprivileged users (Operation not permitted); allow them: sysctl kernel.unprivileged_userns_clone=1 (Debian), kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu), or a container's seccomp profile that permits unshare(CLONE_NEWUSER)",
    );
    assertNoResidue(before, { cacheMayGrow: true });
  });

  it("overlayfs refused in a user namespace (as before Linux 5.11): 125, the remedy, no fallback that cannot work", () => {
    // A new root: the filter refuses every fsopen, which an in-place view
    // needs for its marker's tmpfs before the overlay (a kernel that only
    // refuses overlayfs reaches the same message in place).
    const pkg = wrapPackage(makePackage({ "bin/world": { from: prog } }, "nooverlay-pkg"), [], ["--config", join(repoRoot, "policies/new-root.json")]);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch([prog, "caller", "--no-overlay", "--", wrapper(pkg)], runtime);
    assert.equal(r.status, LAUNCHER_EXIT.setup, r.stderr);
    assert.match(r.stderr, /^fhs: overlay \/usr of \d+ layers: this kernel does not let an unprivileged user mount overlayfs in a user namespace \(Operation not permitted\); Linux >= 5\.11 does: upgrade the kernel, or check with 'fhs doctor'\n$/);
    assert.equal(r.stdout, "");
    assertNoResidue(before, { cacheMayGrow: true });
  });

  it("user.max_user_namespaces = 0 (set in a throwaway namespace of the caller's): 125, the remedy", () => {
    const pkg = worldPackage("maxuserns-pkg");
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const r = launch(["unshare", "-U", "-r", "sh", "-c", 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0"', wrapper(pkg)], runtime);
    assertRefused(r, LAUNCHER_EXIT.setup, "cannot create a user namespace: user namespaces are disabled here (user.max_user_namespaces is 0); enable them: sysctl -w user.max_user_namespaces=15000");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("mount-propagation: a view's mounts never reach the caller's mount table", () => {
  it("while the program runs in its view, and after, the caller's mount table is as before", async () => {
    const dep = markerLayer("prop");
    const pkg = worldPackage("prop-pkg", [dep]);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const p = hold([wrapper(pkg), "hold", "/usr/share/prop/marker"], runtime);
    await p.started();
    assert.equal(callerMounts(), before.mounts, "a mount of the running view is in the caller's table");
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.err());
    assert.equal(p.out(), "opened\nread prop\nexists yes\n");
    assertNoResidue(before, { cacheMayGrow: true });
  });
});

describe("layer-gc-while-running: a layer removed while its program runs", () => {
  it("the running program keeps working; the next launch is refused naming the layer", async () => {
    const dep = markerLayer("gc");
    const pkg = worldPackage("gc-pkg", [dep]);
    const runtime = testDir("fhs-runtime-");
    const before = world(runtime);
    const p = hold([wrapper(pkg), "hold", "/usr/share/gc/marker"], runtime);
    await p.started();
    // As a garbage collector would: the whole layer, by its owner.
    const rm = runUnprivileged(["rm", "-rf", dep]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.ok(!existsSync(dep));
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.err());
    // Its open file reads as before; a name it looked up before may still
    // resolve from the overlay's cache, and that is all it keeps.
    assert.match(p.out(), /^opened\nread gc\nexists (yes|no)\n$/);
    const r = launch([wrapper(pkg)], runtime);
    assertRefused(r, LAUNCHER_EXIT.setup, `layer ${dep}/usr: No such file or directory`);
    assertNoResidue(before, { cacheMayGrow: true });
  });
});
