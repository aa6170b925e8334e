// The README's demo, as a transcript: each step shows the command and its real
// output. Launches run as an unprivileged user (as root: the fhs-test user).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { debLayers } from "./helpers/debian.js";
import { repoRoot, runUnprivileged, testArtifacts, testUser } from "./helpers/env.js";
import { packageFromLayers, shellPackage } from "./helpers/wrapped.js";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => console.log(`\n${bold(`== ${s}`)}`);
const short = (s: string) => s.replaceAll(join(repoRoot, "dist/cli.js"), "fhs");

function show(argv: string[], opts: { unprivileged?: boolean; env?: Record<string, string> } = {}): string {
  console.log(`$ ${short(argv.join(" "))}`);
  const r = opts.unprivileged
    ? runUnprivileged(argv, { env: opts.env })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, ...opts.env } });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  if (r.status !== 0) throw new Error(`demo step failed (exit ${r.status}): ${argv.join(" ")}`);
  return r.stdout;
}
const fhs = (args: string[], opts = {}) => show([process.execPath, join(repoRoot, "dist/cli.js"), ...args], opts);

say("Real software: Debian's hello and its C library, imported as layers");
const libc = debLayers(["libc6"], { withDeps: true });
const hello = packageFromLayers(debLayers(["hello"]), "hello");
console.log(`layers: ${libc.join(" ")}`);

say("Wrap it: the program moves to .fhs/raw, a wrapper takes its place");
fhs(["wrap", hello, ...libc.flatMap((l) => ["--layer", l])], { env: { FHS_LAUNCHER: testArtifacts().launcher } });
spawnSync("chown", ["-R", "-h", `${testUser.uid}:${testUser.gid}`, hello]);

say(`Run it (as uid ${testUser.uid}): a pure view, nothing of the host's /usr`);
show([join(hello, "usr/bin/hello")], { unprivileged: true });

say("The plan the launcher carried out, computed by the same policy.wasm in Node");
fhs(["plan", join(hello, "usr/bin/hello")]);

say("Nested: a wrapped shell (dash, coreutils, grep; sed a layer of its own), and hello run inside its view");
const { pkg: shell } = shellPackage();
show([join(shell, "usr/bin/dash"), "-c", `echo "inside view $IN_NIX_FHS"; ls /usr/bin | head -3; ${hello}/usr/bin/hello -g 'Hello from a nested view'; test -e /usr/bin/perl || echo "host /usr/bin/perl: not visible"`], { unprivileged: true });
