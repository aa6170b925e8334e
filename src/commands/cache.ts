import type { CAC } from "cac";
import { DEFAULT_MAX_AGE_DAYS, pruneCaches } from "../cache.js";
import { FhsError } from "../errors.js";

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;

/** A non-negative number from an option, or a one-line usage error. */
function amount(option: string, unit: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v === "boolean" || !Number.isFinite(n) || n < 0) throw new FhsError(`cache prune: ${option}: expected a number of ${unit} >= 0, not '${String(v)}'`);
  return n;
}

export function register(cli: CAC): void {
  cli
    .command("cache <action>", "prune: remove cached plans and ld.so.caches not used lately (every one can be made again)")
    .usage(`cache prune [--max-age DAYS] [--max-size MIB] [--all]`)
    .option("--max-age <days>", `Remove entries not used for DAYS days (default ${DEFAULT_MAX_AGE_DAYS})`)
    .option("--max-size <mib>", "Then remove the least recently used until each cache holds at most MIB MiB")
    .option("--all", "Remove every entry")
    .action((action: string, o: { maxAge?: string; maxSize?: string; all?: boolean }) => {
      if (action !== "prune") throw new FhsError(`cache ${action}: unknown action (expected: fhs cache prune)`);
      const maxSize = amount("--max-size", "MiB", o.maxSize);
      const results = pruneCaches({
        maxAgeDays: amount("--max-age", "days", o.maxAge),
        maxBytes: maxSize === undefined ? undefined : maxSize * 1024 * 1024,
        all: !!o.all,
      });
      for (const r of results) {
        if (r.skipped) console.log(`${r.name} ${r.dir}: ${r.skipped}`);
        else console.log(`${r.name} ${r.dir}: removed ${r.removed} (${kib(r.removedBytes)}), kept ${r.kept} (${kib(r.keptBytes)})`);
      }
      return 0;
    });
}
