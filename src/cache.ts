// `fhs cache prune`: bounds the caches fhs keeps per user. Every entry can be
// made again (a plan by running the policy, an ld.so.cache by ldconfig or by
// the launcher's union), so pruning only costs the next launch some time.
//
//   plans       the launcher's plan cache and nested views' union
//               ld.so.caches: $XDG_RUNTIME_DIR/fhs-plans, else
//               /tmp/fhs-plans-UID (launcher/cache.c, cache_dir)
//   ld.so.cache fhs env's caches per layer list: $XDG_CACHE_HOME/fhs/ld.so.cache
//               (src/ldcache.ts)
//
// An entry's last use is its atime (the launcher and the loader read it;
// with relatime the kernel keeps that true to a day) or its mtime, whichever
// is later. Only entries fhs names are touched (a plan's sha256, a union's
// sha256.ld.so.cache or an older launcher's view-id.ld.so.cache, a temporary's .tmp-PID), only in a directory the caller owns
// that no one else may write to, as the launcher requires; anything else
// there is left alone. In-place views' marker layers (view-<hash>/) are
// never removed: a running view may use one as a lower; nor is the empty
// directory (empty/) their hides show. The directory a
// launch killed while filling one left (.new-XXXXXX, never used as a lower:
// only a finished entry is renamed into place) is removed once it is older
// than a launch could still be filling it.
import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { FhsError } from "./errors.js";
import { envLdCacheDir } from "./ldcache.js";
import { removeTree } from "./tree.js";

/** A marker layer's temporary (launcher/cache.c, cache_entry_begin). */
const MARKER_TEMP = /^\.new-[A-Za-z0-9]{6}$/;
/** A launch fills one in milliseconds: older than this, it was abandoned. */
const MARKER_TEMP_AGE_MS = 10 * 60_000;

export interface PruneOptions {
  /** Remove entries not used for this many days. */
  maxAgeDays?: number;
  /** Then remove the least recently used until the cache holds at most this many bytes. */
  maxBytes?: number;
  /** Remove every entry. */
  all?: boolean;
  /** For tests and tools: the time to measure age from (ms). */
  now?: number;
}

export interface CacheDirResult {
  name: "plans" | "ld.so.cache";
  dir: string;
  /** Why the directory was not pruned, if it was not. */
  skipped?: string;
  removed: number;
  removedBytes: number;
  kept: number;
  keptBytes: number;
}

export const DEFAULT_MAX_AGE_DAYS = 30;

const ENTRY: Record<CacheDirResult["name"], RegExp> = {
  plans: /^(plan-[0-9a-f]{16}|[0-9a-f]{64}|([0-9a-f]{64}|[0-9a-f]{16})\.ld\.so\.cache)(\.tmp-\d+)?$/,
  "ld.so.cache": /^[0-9a-f]{64}(\.tmp-\d+)?$/,
};

/** The plan cache's directory, as the launcher chooses it. */
export function planCacheDir(): string {
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg && xdg.startsWith("/") ? join(xdg, "fhs-plans") : `/tmp/fhs-plans-${process.getuid!()}`;
}

function pruneDir(name: CacheDirResult["name"], dir: string, opts: PruneOptions): CacheDirResult {
  const result: CacheDirResult = { name, dir, removed: 0, removedBytes: 0, kept: 0, keptBytes: 0 };
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return { ...result, skipped: "no cache" };
  }
  // The launcher trusts only such a directory; neither does prune touch another.
  if (!st.isDirectory() || st.uid !== process.getuid!() || st.mode & 0o022) return { ...result, skipped: "not a directory only you own and may write; left alone" };
  const entries = readdirSync(dir)
    .filter((n) => ENTRY[name].test(n))
    .flatMap((n) => {
      try {
        const s = lstatSync(join(dir, n));
        return s.isFile() ? [{ path: join(dir, n), size: s.size, used: Math.max(s.atimeMs, s.mtimeMs) }] : [];
      } catch {
        return []; // removed meanwhile
      }
    })
    .sort((a, b) => a.used - b.used); // least recently used first
  const now = opts.now ?? Date.now();
  const maxAge = (opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS) * 86_400_000;
  if (name === "plans") {
    for (const n of readdirSync(dir).filter((n) => MARKER_TEMP.test(n))) {
      const path = join(dir, n);
      let t;
      try {
        t = lstatSync(path);
      } catch {
        continue; // published or removed meanwhile
      }
      if (!t.isDirectory() || t.uid !== process.getuid!() || now - t.mtimeMs < MARKER_TEMP_AGE_MS) continue;
      removeTree(path);
      result.removed++;
    }
  }
  let total = entries.reduce((t, e) => t + e.size, 0);
  for (const e of entries) {
    const old = opts.all || now - e.used > maxAge || (opts.maxBytes !== undefined && total > opts.maxBytes);
    if (!old) {
      result.kept++;
      result.keptBytes += e.size;
      continue;
    }
    try {
      // A view that binds a union cache keeps its inode; a launcher that
      // reads a plan holds it open: removing either is safe.
      unlinkSync(e.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new FhsError(`cache ${e.path}: cannot remove: ${(err as Error).message}`);
    }
    total -= e.size;
    result.removed++;
    result.removedBytes += e.size;
  }
  return result;
}

export function pruneCaches(opts: PruneOptions = {}): CacheDirResult[] {
  return [pruneDir("plans", planCacheDir(), opts), pruneDir("ld.so.cache", envLdCacheDir(), opts)];
}
