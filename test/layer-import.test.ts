// `fhs layer import`: real Debian packages become read-only merged-/usr layers.
// The oracle for a layer's contents is dpkg-deb's own extraction, normalized.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, test } from "node:test";
import { pack } from "tar-stream";
import { inspectLayer } from "../src/layers.js";
import { debClosure, debFiles, debLayers, debSource, layerDir } from "./helpers/debian.js";
import { runCli, runUnprivileged, scratchDir, testDir } from "./helpers/env.js";

const cli = join(import.meta.dirname, "..", "dist", "cli.js");
const [helloDeb, dashDeb, coreutilsDeb, libcDeb, mountDeb] = debFiles(["hello", "dash", "coreutils", "libc6", "mount"]);

/** Every path under root (relative, sorted), with a short description of what it is. */
function tree(root: string, skip = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(root, p);
      if (skip.has(rel)) continue;
      if (e.isDirectory()) {
        out.set(rel, "dir");
        walk(p);
      } else if (e.isSymbolicLink()) out.set(rel, `-> ${readlinkSync(p)}`);
      else out.set(rel, `file ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    }
  };
  walk(root);
  return out;
}

/** dpkg-deb's extraction with bin, sbin, lib* moved under usr/ and top-level symlinks of those names dropped. */
function expectedTree(deb: string): Map<string, string> {
  const dir = scratchDir("fhs-dpkg-x-");
  execFileSync("dpkg-deb", ["-x", deb, dir]);
  const merged = new Map<string, string>([["usr", "dir"]]);
  for (const [rel, what] of tree(dir)) {
    const first = rel.split("/")[0]!;
    const moved = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"].includes(first);
    if (moved && rel === first && what.startsWith("->")) continue;
    merged.set(moved ? `usr/${rel}` : rel, what);
  }
  execFileSync("rm", ["-rf", dir]);
  return merged;
}

function importInto(store: string, ...debs: string[]) {
  const r = runCli(["layer", "import", "--json", "--into", store, ...debs]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { layer: string; package: string; version: string; architecture: string; created: boolean; notes: string[] }[];
}

function leftovers(store: string): string[] {
  return existsSync(store) ? readdirSync(store).filter((n) => n.startsWith(".tmp-")) : [];
}

describe("fhs layer import of real Debian packages", () => {
  const store = join(testDir("fhs-store-"), "store");
  const results = importInto(store, helloDeb!, dashDeb!, coreutilsDeb!, libcDeb!);

  test("each .deb becomes STORE/<package>_<version>_<arch>, named from its control file", () => {
    const fields = (deb: string) => ["Package", "Version", "Architecture"].map((f) => execFileSync("dpkg-deb", ["-f", deb, f], { encoding: "utf8" }).trim());
    for (const [deb, r] of [helloDeb, dashDeb, coreutilsDeb, libcDeb].map((d, i) => [d!, results[i]!] as const)) {
      const [p, v, a] = fields(deb);
      assert.deepEqual([r.package, r.version, r.architecture], [p, v, a]);
      assert.equal(r.layer, join(store, `${p}_${v!.replaceAll(":", "%3a")}_${a}`));
      assert.equal(r.created, true);
      assert.equal(inspectLayer(r.layer).layout, "fhs");
    }
  });

  test("contents equal dpkg-deb's extraction, merged into usr/", () => {
    for (const [deb, r] of [helloDeb, dashDeb, coreutilsDeb, libcDeb].map((d, i) => [d!, results[i]!] as const)) {
      assert.deepEqual(tree(r.layer, new Set([".fhs", ".fhs/deb.json"])), expectedTree(deb), `layer of ${deb}`);
    }
  });

  test("merged /usr: dash's /bin/dash is usr/bin/dash, libc6's /lib64 is usr/lib64", () => {
    const dash = results[1]!.layer;
    assert.ok(execFileSync("dpkg-deb", ["-c", dashDeb!], { encoding: "utf8" }).includes(" ./bin/dash\n"));
    assert.ok(statSync(join(dash, "usr/bin/dash")).isFile());
    assert.ok(!existsSync(join(dash, "bin")));
    const libc = results[3]!.layer;
    assert.ok(lstatSync(join(libc, "usr/lib64/ld-linux-x86-64.so.2")).isSymbolicLink());
    assert.deepEqual(readdirSync(libc).sort(), [".fhs", "etc", "usr"]);
  });

  test("layers are read-only: directories 0555, no file has a write bit", () => {
    for (const r of results) {
      const walk = (dir: string) => {
        assert.equal(statSync(dir).mode & 0o7777, 0o555, dir);
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.isFile()) assert.equal(statSync(p).mode & 0o222, 0, p);
        }
      };
      walk(r.layer);
    }
  });

  test("the imported programs run: hello through libc6's dynamic loader, as the test user", () => {
    const libc = results[3]!.layer;
    const r = runUnprivileged([
      join(libc, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
      "--library-path",
      join(libc, "usr/lib/x86_64-linux-gnu"),
      join(results[0]!.layer, "usr/bin/hello"),
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Hello, world!\n");
  });

  test("a second import of the same .deb gives the same layer, unchanged, and says so", () => {
    const before = tree(results[1]!.layer);
    const r = runCli(["layer", "import", "--into", store, dashDeb!]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${results[1]!.layer}\n`);
    assert.match(r.stderr, /already imported/);
    assert.equal(importInto(store, dashDeb!)[0]!.created, false);
    assert.deepEqual(tree(results[1]!.layer), before);
    assert.deepEqual(leftovers(store), []);
  });

  test("--as makes the one .deb exactly the named new directory (a Nix build's $out), and never overwrites it", () => {
    const out = join(testDir("fhs-as-"), "dash-layer");
    const r = runCli(["layer", "import", dashDeb!, "--as", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${out}\n`);
    assert.deepEqual(tree(out), tree(results[1]!.layer));
    const again = runCli(["layer", "import", dashDeb!, "--as", out]);
    assert.equal(again.status, 2);
    assert.equal(again.stderr, `fhs: ${dashDeb}: ${out} exists; --as names a new directory\n`);
    const two = runCli(["layer", "import", dashDeb!, helloDeb!, "--as", `${out}2`]);
    assert.equal(two.status, 2);
    assert.match(two.stderr, /^fhs: usage: fhs layer import/);
  });

  test("imports racing for the same layer all succeed with one layer", async () => {
    const raceStore = join(testDir("fhs-race-"), "store");
    const runs = await Promise.all([1, 2, 3].map(() => promisify(execFile)(process.execPath, [cli, "layer", "import", "--json", "--into", raceStore, libcDeb!])));
    const results = runs.map((r) => JSON.parse(r.stdout)[0] as { layer: string; created: boolean });
    assert.equal(new Set(results.map((r) => r.layer)).size, 1);
    assert.ok(results.filter((r) => r.created).length >= 1);
    assert.deepEqual(readdirSync(raceStore), [basename(results[0]!.layer)]);
  });

  test("the control archive's members are kept in .fhs/deb/<package>/, outside every view, scripts executable", () => {
    const x = scratchDir("fhs-dpkg-e-");
    execFileSync("dpkg-deb", ["-e", dashDeb!, x]);
    const own = join(results[1]!.layer, ".fhs/deb/dash");
    assert.deepEqual(readdirSync(own).sort(), readdirSync(x).sort());
    for (const f of readdirSync(x)) assert.ok(readFileSync(join(own, f)).equals(readFileSync(join(x, f))), f);
    assert.equal(statSync(join(own, "postinst")).mode & 0o777, 0o555);
    assert.equal(statSync(join(own, "control")).mode & 0o777, 0o444);
    assert.equal(JSON.parse(readFileSync(join(results[1]!.layer, ".fhs/deb.json"), "utf8")).format, 2);
    execFileSync("rm", ["-rf", x]);
  });

  test("a layer an older fhs imported (no .fhs/deb) gains its control members on the next import, its view content untouched", () => {
    const old = join(testDir("fhs-store-old-"), "store");
    const [first] = importInto(old, helloDeb!);
    const meta = join(first!.layer, ".fhs");
    // What an older import left: deb.json without `format`, no deb/.
    execFileSync("chmod", ["-R", "u+w", meta]);
    execFileSync("rm", ["-rf", join(meta, "deb")]);
    const json = JSON.parse(readFileSync(join(meta, "deb.json"), "utf8"));
    delete json.format;
    writeFileSync(join(meta, "deb.json"), JSON.stringify(json));
    execFileSync("chmod", ["-R", "a-w", meta]);
    const before = tree(first!.layer, new Set([".fhs"]));
    const [again] = importInto(old, helloDeb!);
    assert.equal(again!.created, false);
    assert.ok(existsSync(join(meta, "deb/hello/control")));
    assert.equal(JSON.parse(readFileSync(join(meta, "deb.json"), "utf8")).format, 2);
    assert.deepEqual(tree(first!.layer, new Set([".fhs"])), before);
    assert.equal(statSync(meta).mode & 0o777, 0o555);
  });

  test("setuid and setgid bits are dropped (mount's /bin/mount)", () => {
    assert.match(execFileSync("dpkg-deb", ["-c", mountDeb!], { encoding: "utf8" }), /^-rws\S+ \S+\s+\d+ [\d-]+ [\d:]+ \.\/bin\/mount$/m);
    const [r] = importInto(store, mountDeb!);
    const mode = statSync(join(r!.layer, "usr/bin/mount")).mode;
    assert.equal(mode & 0o6000, 0);
    assert.equal(mode & 0o555, 0o555);
  });
});

describe("fhs layer import refuses bad input, leaving no layer behind", () => {
  const dir = testDir("fhs-bad-");
  const store = join(dir, "store");

  const refuse = (file: string, cause: RegExp) => {
    const r = runCli(["layer", "import", "--into", store, file]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
    assert.ok(r.stderr.startsWith(`fhs: ${file}: `), r.stderr);
    assert.match(r.stderr, cause);
    assert.deepEqual(existsSync(store) ? readdirSync(store) : [], []);
  };

  test("a text file", () => {
    const f = join(dir, "notes.deb");
    writeFileSync(f, "this is not a package\n");
    refuse(f, /not a Debian package/);
  });

  test("a truncated real .deb (cut in its data archive's ar member)", () => {
    const deb = readFileSync(coreutilsDeb!);
    const f = join(dir, "coreutils-cut.deb");
    writeFileSync(f, deb.subarray(0, Math.floor(deb.length / 2)));
    refuse(f, /truncated/);
  });

  test("a real .deb whose data archive is damaged", () => {
    const deb = Buffer.from(readFileSync(helloDeb!));
    for (let i = deb.length - 4000; i < deb.length - 2000; i++) deb[i] = deb[i]! ^ 0x5a;
    const f = join(dir, "hello-damaged.deb");
    writeFileSync(f, deb);
    refuse(f, /corrupt data\.tar\.xz/);
  });

  test("a missing file", () => {
    refuse(join(dir, "absent.deb"), /cannot read \(ENOENT\)/);
  });
});

/** A .deb made here, for cases Debian's archive does not ship. */
async function makeDeb(path: string, entries: { name: string; type?: "file" | "directory" | "symlink" | "character-device" | "link"; body?: string; linkname?: string; mode?: number }[]) {
  const tarOf = async (items: typeof entries) => {
    const p = pack();
    for (const e of items) p.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname, mode: e.mode ?? (e.type === "directory" ? 0o755 : 0o644), devmajor: 1, devminor: 3 }, e.body ?? "");
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    return gzipSync(Buffer.concat(chunks));
  };
  const control = await tarOf([{ name: "./control", body: "Package: fixture\nVersion: 1:1.0-1\nArchitecture: all\nDescription: test\n" }]);
  const data = await tarOf(entries);
  const member = (name: string, body: Buffer) => {
    const h = name.padEnd(16) + "0".padEnd(12) + "0".padEnd(6) + "0".padEnd(6) + "100644".padEnd(8) + String(body.length).padEnd(10) + "`\n";
    return Buffer.concat([Buffer.from(h, "latin1"), body, body.length % 2 ? Buffer.from("\n") : Buffer.alloc(0)]);
  };
  writeFileSync(path, Buffer.concat([Buffer.from("!<arch>\n"), member("debian-binary", Buffer.from("2.0\n")), member("control.tar.gz", control), member("data.tar.gz", data)]));
}

describe("fhs layer import normalizes what real packages may hold", () => {
  const dir = testDir("fhs-made-");
  const store = join(dir, "store");

  test("device nodes are skipped with a note; relative symlinks follow their moved targets; top-level lib64 symlink dropped", async () => {
    const deb = join(dir, "fixture.deb");
    await makeDeb(deb, [
      { name: "./", type: "directory" },
      { name: "./lib64", type: "symlink", linkname: "usr/lib64" },
      { name: "./lib/", type: "directory" },
      { name: "./lib/libx.so.1", body: "x" },
      { name: "./lib/libx.so", type: "symlink", linkname: "../usr/lib/other/liby.so" },
      { name: "./usr/lib/other/liby.so", body: "y" },
      { name: "./usr/lib/libz.so", type: "symlink", linkname: "../../lib/libx.so.1" },
      { name: "./usr/bin/tool", body: "#!/bin/sh\n", mode: 0o4755 },
      { name: "./bin/tool", type: "link", linkname: "./usr/bin/tool" },
      { name: "./dev/null", type: "character-device" },
    ]);
    const r = runCli(["layer", "import", "--into", store, deb]);
    assert.equal(r.status, 0, r.stderr);
    const layer = join(store, "fixture_1%3a1.0-1_all");
    assert.equal(r.stdout, `${layer}\n`);
    assert.match(r.stderr, /^fhs: note: .*: skipped character-device \/dev\/null$/m);
    assert.ok(!existsSync(join(layer, "lib64")) && !existsSync(join(layer, "usr/lib64")));
    assert.equal(readlinkSync(join(layer, "usr/lib/libx.so")), "other/liby.so");
    assert.equal(readFileSync(join(layer, "usr/lib/libx.so"), "utf8"), "y");
    assert.equal(readlinkSync(join(layer, "usr/lib/libz.so")), "libx.so.1");
    assert.equal(readFileSync(join(layer, "usr/lib/libz.so"), "utf8"), "x");
    assert.equal(statSync(join(layer, "usr/bin/tool")).mode & 0o7777, 0o555);
    assert.deepEqual(readdirSync(layer).sort(), [".fhs", "usr"]);
  });

  test("a file in both /bin and /usr/bin with different contents is an error, and no layer is left", async () => {
    const deb = join(dir, "clash.deb");
    await makeDeb(deb, [
      { name: "./usr/bin/tool", body: "one" },
      { name: "./bin/tool", body: "two" },
    ]);
    const r = runCli(["layer", "import", "--into", join(dir, "clash-store"), deb]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `fhs: ${deb}: both /usr/bin/tool and /bin/tool are in the package and they differ\n`);
    assert.deepEqual(readdirSync(join(dir, "clash-store")), []);
  });

  test("a path climbing out of the layer is refused", async () => {
    const deb = join(dir, "escape.deb");
    await makeDeb(deb, [{ name: "./usr/../../escaped", body: "x" }]);
    const r = runCli(["layer", "import", "--into", join(dir, "escape-store"), deb]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unsafe path/);
    assert.ok(!existsSync(join(dir, "escaped")));
  });
  test("an entry below the package's own symlink is refused: nothing is written where it points", async () => {
    const outside = join(dir, "outside");
    mkdirSync(outside);
    const deb = join(dir, "through.deb");
    await makeDeb(deb, [
      { name: "./usr/share/x", type: "symlink", linkname: outside },
      { name: "./usr/share/x/evil", body: "x" },
    ]);
    const r = runCli(["layer", "import", "--into", join(dir, "through-store"), deb]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, `fhs: ${deb}: /usr/share/x/evil would be written through the package's symlink /usr/share/x\n`);
    assert.deepEqual(readdirSync(outside), []);
    assert.deepEqual(readdirSync(join(dir, "through-store")), []);
  });
});

describe("unprivileged import", () => {
  test("the test user imports real .debs into its own store", () => {
    const store = join(testDir("fhs-user-"), "store");
    const r = runUnprivileged([process.execPath, cli, "layer", "import", "--into", store, helloDeb!, libcDeb!]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    for (const l of lines) assert.equal(inspectLayer(l).layout, "fhs");
    assert.ok(statSync(join(lines[0]!, "usr/bin/hello")).isFile());
  });
});

describe("test helper: Debian layers and sources", () => {
  test("debLayers with deps: requested first, then the closure, de-duplicated, cached", () => {
    const layers = debLayers(["coreutils", "hello"], { withDeps: true });
    assert.match(layers[0]!, /\/coreutils_[^/]+_amd64$/);
    assert.match(layers[1]!, /\/hello_[^/]+_amd64$/);
    assert.ok(layers.some((l) => /\/libc6_[^/]+_amd64$/.test(l)));
    assert.equal(new Set(layers).size, layers.length);
    assert.equal(layers.length, debClosure(["coreutils", "hello"]).length);
    for (const l of layers) {
      assert.ok(l.startsWith(layerDir + "/"));
      assert.equal(inspectLayer(l).layout, "fhs");
    }
    const t = Date.now();
    assert.deepEqual(debLayers(["coreutils", "hello"], { withDeps: true }), layers);
    assert.ok(Date.now() - t < 1000, "the second call is served from the cache");
  });

  test("debSource gives hello's upstream release tarball", () => {
    const tarball = debSource("hello");
    assert.match(tarball, /\/hello_[\d.]+\.orig\.tar\.gz$/);
    assert.match(execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }), /^hello-[\d.]+\/configure$/m);
  });
});
