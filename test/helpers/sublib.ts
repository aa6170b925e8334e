// A library the host does not have, in a directory only its layer's
// ld.so.conf.d names, and a program linked against it (no rpath): found in a
// view only through that view's ld.so.cache.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { testDir } from "./env.js";

/** A layer with libsub.so.1 in a directory only its own ld.so.conf.d names, and a program linked against it. */
export function sublibAndProgram(): { lib: string; bin: string } {
  const src = testDir();
  writeFileSync(join(src, "sub.c"), 'const char *sub(void) { return "found libsub through the view\'s ld.so.cache"; }\n');
  writeFileSync(join(src, "use.c"), '#include <stdio.h>\nconst char *sub(void);\nint main(void) { puts(sub()); return 0; }\n');
  const lib = join(testDir(), "sublib");
  mkdirSync(join(lib, "usr/lib/x86_64-linux-gnu/fhs-sub"), { recursive: true });
  mkdirSync(join(lib, "etc/ld.so.conf.d"), { recursive: true });
  writeFileSync(join(lib, "etc/ld.so.conf.d/fhs-sub.conf"), "/usr/lib/x86_64-linux-gnu/fhs-sub\n");
  const so = join(lib, "usr/lib/x86_64-linux-gnu/fhs-sub/libsub.so.1");
  execFileSync("cc", ["-shared", "-fPIC", "-Wl,-soname,libsub.so.1", "-o", so, join(src, "sub.c")]);
  execFileSync("ln", ["-s", "libsub.so.1", join(lib, "usr/lib/x86_64-linux-gnu/fhs-sub/libsub.so")]);
  const bin = join(src, "usesub");
  execFileSync("cc", ["-o", bin, join(src, "use.c"), `-L${join(lib, "usr/lib/x86_64-linux-gnu/fhs-sub")}`, "-lsub"]);
  // The host's cache does not know the library: only a view's can find it.
  assert.doesNotMatch(execFileSync("/sbin/ldconfig", ["-p"], { encoding: "utf8" }), /libsub\.so\.1/);
  return { lib, bin };
}
