// The compatibility suite: real programs from Debian packaged the Nix way
// (each Debian package its own layer, fetched and wrapped with the real CLI),
// run through their wrappers as the unprivileged user. Cases are data:
// test/compat/cases.json. docs/COMPAT.md reports the results.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { isRoot, repoRoot, runUnprivileged, testArtifacts, testDir, testUser } from "./helpers/env.js";
import { fetchedPackage, fetchSet, setLayers, type FetchedPackage } from "./helpers/fetched.js";
import { execFileSync } from "node:child_process";

interface Step {
  run: string[];
  env?: string[];
  stdout?: string;
  stderr?: string;
  match?: string;
  stderrMatch?: string;
  status?: number;
  sameAsHost?: { path: string; deb: string };
}
interface Case {
  name: string;
  files?: Record<string, string>;
  steps: Step[];
}
interface Cases {
  packages: Record<string, { debs: string[]; deps?: string[] }>;
  cases: Case[];
}

const table = JSON.parse(readFileSync(join(repoRoot, "test/compat/cases.json"), "utf8")) as Cases;

const built = new Map<string, FetchedPackage>();
function pkg(name: string): FetchedPackage {
  let p = built.get(name);
  if (!p) {
    const spec = table.packages[name];
    assert.ok(spec, `cases.json: no package ${name}`);
    p = fetchedPackage(name, spec.debs, spec.deps ?? []);
    built.set(name, p);
  }
  return p;
}

/** `@PKG/PROG` is PKG's wrapper for PROG (in usr/bin or usr/sbin). */
function resolveArg(arg: string): string {
  const m = /^@([^/]+)\/(.+)$/.exec(arg);
  if (!m) return arg;
  return join(pkg(m[1]!).pkg, "usr/bin", m[2]!);
}

/** The Debian version the host has installed, if any. */
function hostVersion(deb: string): string | undefined {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Version}", deb], { encoding: "utf8" });
  return r.status === 0 && r.stdout ? r.stdout : undefined;
}

function runStep(step: Step, cwd: string) {
  const argv = step.run.map(resolveArg);
  if (!step.env?.length) return runUnprivileged(argv, { cwd, timeoutMs: 300_000 });
  const env = ["env", "--policy", testArtifacts().policy, ...step.env.flatMap((p) => ["--pkg", pkg(p).pkg]), "--", ...argv];
  return runUnprivileged([process.execPath, join(repoRoot, "dist", "cli.js"), ...env], { cwd, timeoutMs: 300_000, env: { FHS_LAUNCHER: testArtifacts().launcher } });
}

describe("compatibility: real programs, each Debian package its own layer", () => {
  for (const c of table.cases) {
    it(c.name, () => {
      const cwd = testDir("fhs-compat-");
      for (const [rel, text] of Object.entries(c.files ?? {})) {
        mkdirSync(dirname(join(cwd, rel)), { recursive: true });
        writeFileSync(join(cwd, rel), text);
      }
      if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, cwd]);
      chmodSync(cwd, 0o755);
      for (const step of c.steps) {
        const r = runStep(step, cwd);
        const what = `${step.run.join(" ")}: exit ${r.status}, stderr: ${r.stderr}`;
        assert.equal(r.status, step.status ?? 0, what);
        if (step.stdout !== undefined) assert.equal(r.stdout, step.stdout, what);
        if (step.stderr !== undefined) assert.equal(r.stderr, step.stderr, what);
        if (step.match !== undefined) assert.match(r.stdout, new RegExp(step.match), what);
        if (step.stderrMatch !== undefined) assert.match(r.stderr, new RegExp(step.stderrMatch), what);
        if (step.sameAsHost) {
          // The same Debian version on the host: the same output.
          const pkgName = step.run[0]!.match(/^@([^/]+)\//)?.[1];
          const fetched = pkgName ? setLayers(pkg(pkgName).set).find((l) => l.package === step.sameAsHost!.deb) : undefined;
          const host = hostVersion(step.sameAsHost.deb);
          if (host && fetched?.version === host) {
            const h = runUnprivileged([step.sameAsHost.path, ...step.run.slice(1)], { cwd });
            assert.equal(r.stdout, h.stdout, `same as the host's ${step.sameAsHost.path}`);
          }
        }
      }
    });
  }
});

describe("the seed's story: a wrapped gcc in an SDL2 dev environment", () => {
  const program = `#include <SDL.h>
#include <stdio.h>
int main(int argc, char **argv) {
  (void)argc; (void)argv;
  if (SDL_Init(SDL_INIT_VIDEO) != 0) { printf("SDL_Init: %s\\n", SDL_GetError()); return 1; }
  SDL_Window *w = SDL_CreateWindow("fhs", 0, 0, 64, 64, 0);
  SDL_version v; SDL_GetVersion(&v);
  printf("SDL %d.%d.%d video=%s window=%s\\n", v.major, v.minor, v.patch, SDL_GetCurrentVideoDriver(), w ? "yes" : "no");
  SDL_Quit();
  return 0;
}
`;

  it("inside `fhs env --layers-from` the libsdl2-dev closure, the separately wrapped gcc compiles an SDL2 program, which runs; outside, gcc cannot see SDL.h", () => {
    const gcc = pkg("gcc");
    const sdl = fetchSet(["libsdl2-dev"]);
    const cwd = testDir("fhs-sdl-");
    writeFileSync(join(cwd, "s.c"), program);
    if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, cwd]);
    const inside = runUnprivileged(
      [process.execPath, join(repoRoot, "dist", "cli.js"), "env", "--policy", testArtifacts().policy, "--layers-from", sdl, "--", "sh", "-c", `${gcc.pkg}/usr/bin/gcc -o s s.c $(sdl2-config --cflags --libs) && SDL_VIDEODRIVER=dummy ./s`],
      { cwd, timeoutMs: 600_000, env: { FHS_LAUNCHER: testArtifacts().launcher } },
    );
    assert.equal(inside.status, 0, inside.stderr);
    assert.match(inside.stdout, /^SDL 2\.\d+\.\d+ video=dummy window=yes\n$/);
    const outside = runUnprivileged([join(gcc.pkg, "usr/bin/gcc"), "-c", "s.c"], { cwd });
    assert.notEqual(outside.status, 0);
    assert.match(outside.stderr, /SDL\.h: No such file or directory/);
  });
});
