// Benchmark (not a timed test): index and classify a real large closure.
// The layers are this machine's installed Debian packages, one layer per
// package, rebuilt from dpkg's file lists (hard links where possible, so the
// build is cheap). A few library packages are added again, first and last, so
// that thousands of paths are contested and really get hashed and classified.
//
//   npm run build && npx tsx test/bench/conflicts.ts [--runs N]
//
// Layers are cached outside the repository (FHS_BENCH_CACHE, default
// ~/.cache/fhs-bench/conflicts). Prints a markdown summary for docs/bench/conflicts.md.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, cpus } from "node:os";
import { join } from "node:path";
import { packageRoot, policiesDir } from "../../src/paths.js";

const cache = process.env.FHS_BENCH_CACHE ?? join(homedir(), ".cache", "fhs-bench", "conflicts");
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] || 3);
/** Added again as extra layers: first (they win) and last (they lose). */
const DUPLICATED = ["libc6", "libstdc++6", "zlib1g", "libssl3", "libgcc-s1"];

const TOP = new Map([["/bin", "/usr/bin"], ["/sbin", "/usr/sbin"], ["/lib", "/usr/lib"], ["/lib64", "/usr/lib64"]]);
function normalize(p: string): string {
  for (const [from, to] of TOP) if (p === from || p.startsWith(from + "/")) return to + p.slice(from.length);
  return p;
}

function listFile(pkg: string): string | undefined {
  const info = "/var/lib/dpkg/info";
  for (const name of [`${pkg}.list`, `${pkg}:amd64.list`, `${pkg}:${execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim()}.list`]) {
    if (existsSync(join(info, name))) return join(info, name);
  }
  return undefined;
}

function buildLayer(dir: string, pkg: string): number {
  const list = listFile(pkg);
  if (!list) return 0;
  let n = 0;
  for (const raw of readFileSync(list, "utf8").split("\n")) {
    if (!raw || raw === "/." || TOP.has(raw) || !(raw.startsWith("/usr") || raw.startsWith("/etc") || raw.startsWith("/opt") || TOP.has(raw.split("/").slice(0, 2).join("/")))) continue;
    let st;
    try {
      st = lstatSync(raw);
    } catch {
      continue;
    }
    const dst = join(dir, normalize(raw));
    if (st.isDirectory()) {
      mkdirSync(dst, { recursive: true });
      continue;
    }
    mkdirSync(join(dst, ".."), { recursive: true });
    if (existsSync(dst)) continue;
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(raw), dst);
    else {
      try {
        linkSync(raw, dst);
      } catch {
        copyFileSync(raw, dst);
      }
    }
    n++;
  }
  return n;
}

function layers(): string[] {
  const stamp = join(cache, "layers.txt");
  const pkgs = execFileSync("dpkg-query", ["-W", "-f=${Package}\\n"], { encoding: "utf8" }).trim().split("\n").sort();
  const want = [...DUPLICATED.map((p) => `first-${p}`), ...pkgs, ...DUPLICATED.map((p) => `last-${p}`)];
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want.join("\n")) return want.map((p) => join(cache, "layers", p));
  rmSync(join(cache, "layers"), { recursive: true, force: true });
  const out: string[] = [];
  for (const name of want) {
    const dir = join(cache, "layers", name);
    mkdirSync(join(dir, "usr"), { recursive: true });
    buildLayer(dir, name.replace(/^(first|last)-/, ""));
    out.push(dir);
  }
  writeFileSync(stamp, want.join("\n"));
  return out;
}

const ls = layers();
// /etc and /opt overlaid as well: every file of the closure is indexed.
const cfg = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8"));
cfg.overlay = { etc: "layers", opt: true };
const cfgFile = join(cache, "config.json");
writeFileSync(cfgFile, JSON.stringify(cfg));
const args = [join(packageRoot, "dist", "cli.js"), "conflicts", "--json", "--stats", "--config", cfgFile, ...ls.flatMap((l) => ["--layer", l])];

const countFiles = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? countFiles(join(d, e.name)) : 1), 0);
const files = ls.reduce((n, l) => n + countFiles(l), 0);

interface Run { wall: number; stats: string; summary: Record<string, number> }
const results: Run[] = [];
for (let i = 0; i < runs + 1; i++) {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 30 });
  const wall = performance.now() - t;
  if (r.status !== 0 && r.status !== 1) throw new Error(`fhs conflicts failed (${r.status}): ${r.stderr}`);
  // The first run warms the page cache; it is not counted.
  if (i > 0) results.push({ wall, stats: r.stderr.trim(), summary: JSON.parse(r.stdout).summary });
}
results.sort((a, b) => a.wall - b.wall);
const med = results[Math.floor(results.length / 2)]!;
const num = (re: RegExp) => Number(re.exec(med.stats)?.[1]);
const policyMs = num(/policy (\d+) ms/);
const totalMs = num(/total (\d+) ms/);
const s = med.summary;
console.log(`| figure | value |
|---|---|
| layers | ${ls.length} |
| non-directory files in the layers | ${files} |
| index entries (files and directories) | ${s.entries} |
| contested paths | ${s.contested} (${s.error} errors, ${s.warning} warnings, ${s.info} info, ${s.ok} identical) |
| files read (hashed or ELF-probed) | ${num(/(\d+) files read/)} |
| wall time, whole command (median of ${runs}, warm cache) | ${(med.wall / 1000).toFixed(2)} s |
| in-process time (walk + read + policy) | ${(totalMs / 1000).toFixed(2)} s |
| walk / read / policy | ${num(/walk (\d+) ms/)} / ${num(/read (\d+) ms/)} / ${policyMs} ms |
| policy chunks | ${num(/\((\d+) chunks/)} |
| share of time in the wasm policy | ${((100 * policyMs) / totalMs).toFixed(1)}% |
| files/s (non-directory files / wall time) | ${Math.round(files / (med.wall / 1000))} |
| cores | ${cpus().length} |`);
console.log(`\nstats line of the median run:\n\n    ${med.stats}`);
