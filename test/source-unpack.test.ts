// A build's --src tarball goes through fhs's one tar reader (src/tar.ts), not
// GNU tar: what it unpacks must be what GNU tar unpacks, for every
// compression fhs build accepts, and a hostile tarball must be refused
// before anything is written outside the build's scratch dir.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { before, describe, it } from "node:test";
import { pack } from "tar-stream";
import { unpackSource } from "../src/build.js";
import { FhsError } from "../src/errors.js";
import { readAll } from "../src/tar.js";
import { testDir } from "./helpers/env.js";

/** Every entry under root: type, mode, mtime, link target or content, and which entries share an inode. */
function listing(root: string): string[] {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      const what = st.isDirectory() ? "dir" : st.isSymbolicLink() ? `link ${readlinkSync(join(root, r))}` : `file ${readFileSync(join(root, r), "hex")}`;
      const same = st.isFile() && st.nlink > 1 ? (inodes.get(st.ino) ?? (inodes.set(st.ino, r), "")) : "";
      out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${st.isSymbolicLink() ? "" : Math.floor(st.mtimeMs / 1000)} ${what}${same ? ` = ${same}` : ""}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

const refused = (cause: string): never => {
  throw new FhsError(`cannot unpack: ${cause}`);
};

describe("fhs build --src: one tar reader, as GNU tar unpacks", () => {
  let work: string;
  let src: string;
  before(() => {
    work = testDir("fhs-unpack-");
    src = join(work, "src");
    const top = join(src, "hello-2.10");
    mkdirSync(join(top, "doc", "ro"), { recursive: true });
    writeFileSync(join(top, "configure"), "#!/bin/sh\necho configured\n");
    chmodSync(join(top, "configure"), 0o755);
    writeFileSync(join(top, "doc", "README"), "hello\n");
    linkSync(join(top, "doc", "README"), join(top, "README"));
    symlinkSync("doc/README", join(top, "README.link"));
    writeFileSync(join(top, "doc", "ro", "keep"), "kept\n");
    writeFileSync(join(top, "setuid"), "");
    chmodSync(join(top, "setuid"), 0o4755);
    for (const p of ["configure", "doc/README", "doc/ro/keep", "setuid", "doc/ro", "doc", ""]) utimesSync(join(top, p), 1_000_000_000, 1_000_000_000);
    chmodSync(join(top, "doc", "ro"), 0o555);
  });

  for (const [how, flag] of [["none", []], ["v7", ["--format=v7"]], ["gzip", ["-z"]], ["xz", ["-J"]], ["bzip2", ["-j"]], ["zstd", ["--zstd"]]] as const) {
    it(`${how}: the same tree as GNU tar's, setuid dropped`, async () => {
      const tarball = join(work, `src-${how}.tar`);
      execFileSync("tar", ["-cf", tarball, ...flag, "-C", src, "hello-2.10"]);
      const mine = join(work, `mine-${how}`);
      const gnu = join(work, `gnu-${how}`);
      mkdirSync(mine);
      mkdirSync(gnu);
      await unpackSource(readFileSync(tarball), mine, refused);
      execFileSync("tar", ["-xf", tarball, "-C", gnu, "--no-same-owner", "--no-same-permissions", "--delay-directory-restore"]);
      assert.deepEqual(listing(mine), listing(gnu));
      assert.equal(lstatSync(join(mine, "hello-2.10", "setuid")).mode & 0o6000, 0);
      assert.match(listing(mine).join("\n"), /^hello-2\.10\/doc\/README 6\d\d 1000000000 file 68656c6c6f0a = hello-2\.10\/README$/m);
    });
  }

  /** A tarball made entry by entry, as a hostile one would be. */
  async function craft(entries: { name: string; type?: "file" | "symlink" | "link" | "directory"; linkname?: string; body?: string }[]): Promise<Buffer> {
    const p = pack();
    for (const e of entries) p.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname, mode: 0o644 }, e.body ?? "");
    p.finalize();
    return readAll(Readable.from(p));
  }

  it("refuses a name with `..`, writing nothing outside", async () => {
    const dir = join(work, "dotdot", "build");
    mkdirSync(dir, { recursive: true });
    const tar = await craft([{ name: "ok", body: "x" }, { name: "../escaped", body: "x" }]);
    await assert.rejects(unpackSource(tar, dir, refused), { message: "cannot unpack: unsafe path '../escaped'" });
    assert.ok(!existsSync(join(work, "dotdot", "escaped")));
  });

  it("refuses to write through a symlink the archive made", async () => {
    const outside = join(work, "outside");
    mkdirSync(outside);
    const dir = join(work, "through", "build");
    mkdirSync(dir, { recursive: true });
    const tar = await craft([{ name: "a", type: "symlink", linkname: outside }, { name: "a/evil", body: "x" }]);
    await assert.rejects(unpackSource(tar, dir, refused), { message: "cannot unpack: 'a/evil' would be written through the symlink 'a'" });
    assert.deepEqual(readdirSync(outside), []);
    const viaHardLink = await craft([{ name: "b", type: "symlink", linkname: outside }, { name: "c", type: "link", linkname: "b/x" }]);
    await assert.rejects(unpackSource(viaHardLink, join(work, "through"), refused), { message: "cannot unpack: 'b/x' would be written through the symlink 'b'" });
  });

  it("a corrupt tarball is one cause, from the decompressor", async () => {
    const good = readFileSync(join(work, "src-gzip.tar"));
    const cut = good.subarray(0, good.length >> 1);
    await assert.rejects(unpackSource(cut, join(work, "cut"), refused), { message: "cannot unpack: unexpected end of file" });
  });
});
