// The README's demo, part two: build GNU hello from source in a pure view,
// wrap it, run it, enter a dev shell, and compile with a wrapped gcc in it.
// Every step runs as the unprivileged user (as root: the fhs-test user).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { debLayers, debSource } from "./helpers/debian.js";
import { repoRoot, runUnprivileged, testArtifacts, testDir } from "./helpers/env.js";
import { gccPackage, shellPackage } from "./helpers/wrapped.js";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => console.log(`\n${bold(`== ${s}`)}`);
const cli = join(repoRoot, "dist/cli.js");
const env = { FHS_LAUNCHER: testArtifacts().launcher };

/** Runs unprivileged and shows the command (long layer lists elided) and its output. */
function show(argv: string[], opts: { cwd?: string; input?: string; tail?: number } = {}): void {
  const shown = argv
    .map((a) => (/[\s&|;$<>]/.test(a) ? `'${a}'` : a))
    .join(" ")
    .replaceAll(`${process.execPath} ${cli}`, "fhs")
    .replace(/(--layer \S+ ){3,}/g, (m) => `--layer … (${m.split("--layer").length - 1} layers) `);
  console.log(`$ ${shown}`);
  const r = runUnprivileged(argv, { cwd: opts.cwd, input: opts.input, env, timeoutMs: 600_000 });
  const lines = (r.stdout + r.stderr).split("\n");
  const keep = opts.tail ? lines.slice(-opts.tail - 1) : lines;
  if (opts.tail && lines.length > keep.length) console.log(`[… ${lines.length - keep.length} lines of build log …]`);
  process.stdout.write(keep.join("\n"));
  if (r.status !== 0) throw new Error(`demo step failed (exit ${r.status}): ${shown}`);
}

say("1. Build GNU hello from its release tarball in a pure view: /usr is only the layers");
const toolchain = debLayers(["gcc", "binutils", "make", "coreutils", "sed", "grep", "gawk", "dash", "libc6-dev"], { withDeps: true });
const out = join(testDir("fhs-demo-build-"), "hello");
show([process.execPath, cli, "build", "--out", out, "--src", debSource("hello"), ...toolchain.flatMap((l) => ["--layer", l]), "--", "sh", "-c", "./configure --prefix=/usr && make && make install"], { tail: 4 });
show(["find", out, "-path", "*/locale", "-prune", "-o", "-print"]);

say("2. Wrap it with its runtime layers");
show([process.execPath, cli, "wrap", out, ...debLayers(["libc6"], { withDeps: true }).flatMap((l) => ["--layer", l])]);

say("3. Run it");
show([join(out, "usr/bin/hello")]);

say("4. A dev shell with zlib's development files (the prompt says you are inside)");
const { pkg: shell } = shellPackage();
const zlib = debLayers(["zlib1g-dev", "zlib1g"]);
show([process.execPath, cli, "env", "--pkg", shell, ...zlib.flatMap((l) => ["--layer", l])], { input: 'echo "prompt: $PS1"; ls /usr/include\n' });

say("5. Inside it, a wrapped gcc (its own package, no zlib in it) compiles and links against zlib");
const gcc = gccPackage().pkg;
const work = testDir("fhs-demo-zlib-");
writeFileSync(join(work, "z.c"), '#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf("built against zlib %s\\n", zlibVersion()); return 0; }\n');
show([process.execPath, cli, "env", "--pkg", shell, ...zlib.flatMap((l) => ["--layer", l]), "--", "sh", "-c", `${gcc}/usr/bin/gcc -o z z.c -lz && ./z`], { cwd: work });
