// The view's ld.so.cache. A view's libraries must resolve without
// LD_LIBRARY_PATH (putting /usr/lib there breaks Nix-built programs), and the
// host's /etc/ld.so.cache describes the host's libraries, not the view's: a
// library the view has in a directory only an ld.so.conf.d entry names would
// not be found. So `fhs wrap` computes a cache for the package's own layer set,
// once, by running ldconfig inside that view; every launch binds it over
// /etc/ld.so.cache. Nothing is regenerated per launch.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { FhsError } from "./errors.js";
import type { Layer } from "./layers.js";
import { encodeManifest, MANIFEST_VERSION } from "./manifest.js";
import type { PolicyConfig } from "./policy/config.js";
import type { PolicyModule } from "./policy/validate.js";

/** Directories glibc searches on Debian-style multiarch systems; ldconfig adds /lib and /usr/lib itself. */
const STANDARD_DIRS = ["/usr/local/lib", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"];

/** A static ldconfig: it runs inside a view that need not hold a libc. */
function findLdconfig(): string | undefined {
  for (const p of ["/sbin/ldconfig", "/usr/sbin/ldconfig"]) {
    if (!existsSync(p)) continue;
    const head = readFileSync(p).subarray(0, 64 * 1024);
    // A dynamic executable names its interpreter (PT_INTERP) near the start.
    if (!head.includes("ld-linux")) return p;
  }
  return undefined;
}

/** The directories the view's ld.so.cache lists libraries from, in the order
 * ldconfig meets them (for one SONAME in two of them, the loader takes the
 * first): the view's ld.so.conf, then the /lib and /usr/lib ldconfig adds
 * itself; as view paths under the merged /usr. */
export function viewLibDirs(layers: Layer[]): string[] {
  const conf = viewLdSoConf(layers).split("\n").filter((d) => d !== "");
  const merged = (d: string) => (/^\/(lib|lib32|lib64|libx32)(\/|$)/.test(d) ? `/usr${d}` : d).replace(/\/+$/, "");
  return [...new Set([...conf, "/lib", "/usr/lib"].map(merged))];
}

/** ld.so.conf for the view: the layers' own ld.so.conf.d entries, then the standard dirs. */
function viewLdSoConf(layers: Layer[]): string {
  const dirs: string[] = [];
  for (const l of layers) {
    if (!l.dirs.includes("etc")) continue;
    const confd = join(l.path, "etc", "ld.so.conf.d");
    if (!existsSync(confd)) continue;
    for (const f of readdirSync(confd).filter((n) => n.endsWith(".conf")).sort()) {
      for (const line of readFileSync(join(confd, f), "utf8").split("\n")) {
        const d = line.replace(/#.*/, "").trim();
        if (d.startsWith("/")) dirs.push(d);
      }
    }
  }
  return [...new Set([...dirs, ...STANDARD_DIRS])].join("\n") + "\n";
}

export interface LdCacheResult {
  /** The cache file, or undefined when no static ldconfig is available here. */
  file?: string;
  note?: string;
}

/** Runs ldconfig inside the view of `layers`; writes the cache to `outFile`. */
export function buildViewLdCache(layers: Layer[], policy: PolicyModule, config: PolicyConfig, launcher: string, outFile: string): LdCacheResult {
  const ldconfig = findLdconfig();
  if (!ldconfig) return { note: "no static ldconfig on this host: the view uses the host's /etc/ld.so.cache" };
  const work = mkdtempSync(join(tmpdir(), "fhs-ldcache-"));
  try {
    chmodSync(work, 0o755);
    copyFileSync(ldconfig, join(work, "ldconfig"));
    chmodSync(join(work, "ldconfig"), 0o755);
    writeFileSync(join(work, "ld.so.conf"), viewLdSoConf(layers));
    writeFileSync(
      join(work, "manifest.bin"),
      encodeManifest({
        fhsManifest: MANIFEST_VERSION,
        package: work,
        layers,
        policy: { path: policy.path, sha256: policy.sha256, source: "default" },
        config,
        programs: [],
        launcher,
      }),
    );
    const r = spawnSync(launcher, ["env", join(work, "manifest.bin"), "--", join(work, "ldconfig"), "-X", "-C", join(work, "ld.so.cache"), "-f", join(work, "ld.so.conf")], {
      encoding: "utf8",
      cwd: work,
    });
    if (r.status !== 0 || !existsSync(join(work, "ld.so.cache"))) {
      throw new FhsError(`ld.so.cache for the view: ldconfig failed (exit ${r.status ?? r.signal}): ${(r.stderr || "").trim().split("\n")[0] ?? ""}`);
    }
    copyFileSync(join(work, "ld.so.cache"), outFile);
    return { file: outFile };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The view's cache for a layer set that has no package to hold it (`fhs env`):
 * made once per layer list, kept in the user's cache directory under the
 * list's hash, and reused by every later session with the same layers. */
/** Where `fhs env` keeps the caches it makes (`fhs cache prune` bounds it). */
export function envLdCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "fhs", "ld.so.cache");
}

export function cachedViewLdCache(layers: Layer[], policy: PolicyModule, config: PolicyConfig, launcher: string): string | undefined {
  const key = createHash("sha256").update(JSON.stringify(layers)).digest("hex");
  const dir = envLdCacheDir();
  const file = join(dir, key);
  if (existsSync(file)) return file;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return undefined; // no writable cache directory: the view shows the host's cache
  }
  const tmp = `${file}.tmp-${process.pid}`;
  if (!buildViewLdCache(layers, policy, config, launcher, tmp).file) return undefined;
  renameSync(tmp, file);
  return file;
}
