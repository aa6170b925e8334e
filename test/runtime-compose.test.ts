// Composition with a real toolchain: a wrapped gcc, launched inside a view
// that adds zlib's development files, compiles and links against them, and
// the program runs in that view. Only composition makes this work: zlib is
// not among gcc's own layers.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { runUnprivileged, testDir } from "./helpers/env.js";
import { gccPackage, packageFromLayers, shellPackage, wrapPackage } from "./helpers/wrapped.js";

let gccPkg: string;
let devShell: string;

before(() => {
  // gcc is its programs' own package; libgcc-12-dev, libc6-dev and the rest
  // of its closure are layers of their own.
  gccPkg = gccPackage().pkg;
  const shell = shellPackage();
  // The dev shell: the shell's programs plus zlib's headers and library.
  devShell = wrapPackage(packageFromLayers(debLayers(["dash"]), "devshell"), [shell.pkg, ...debLayers(["zlib1g-dev", "zlib1g"]), ...shell.layers]);
});

describe("composition with a real compiler", () => {
  it("wrapped gcc inside a zlib dev view compiles, links and runs a zlib program", () => {
    const work = testDir();
    writeFileSync(join(work, "z.c"), `#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("zlib %s\\n", zlibVersion()); return 0; }\n`);
    const r = runUnprivileged([join(devShell, "usr/bin/dash"), "-c", `${gccPkg}/usr/bin/gcc -o z z.c -lz && ./z`], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^zlib 1\.2\.\d+/);
  });

  it("the same gcc outside that view does not see zlib.h: the run is pure", () => {
    const work = testDir();
    writeFileSync(join(work, "z.c"), "#include <zlib.h>\nint main(void) { return 0; }\n");
    const r = runUnprivileged([join(gccPkg, "usr/bin/gcc"), "-c", "z.c"], { cwd: work });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /zlib\.h: No such file or directory/);
  });
});

describe("an interpreter from Debian", () => {
  it("a wrapped python3 runs in a pure view and finds its standard library", () => {
    // The package is python3-minimal alone: its /usr/bin/python3 -> python3.11
    // points into python3.11-minimal, a layer of its own, as Nix would have it.
    const own = debLayers(["python3-minimal"]);
    const deps = debLayers(["python3-minimal"], { withDeps: true }).filter((l) => !own.includes(l));
    const py = wrapPackage(packageFromLayers(own, "python3"), deps);
    const r = runUnprivileged([join(py, "usr/bin/python3"), "-c", "import os, sys; print(sys.version_info[:2], os.path.exists('/usr/bin/perl'), os.environ['IN_NIX_FHS'] != '', sys.executable, os.path.realpath('/proc/self/exe'))"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "(3, 11) False True /usr/bin/python3 /usr/bin/python3.11\n");
  });
});
