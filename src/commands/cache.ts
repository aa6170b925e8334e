import { pruneCaches } from "../cache.js";
import type { Action } from "../cli-config.js";
import { FhsError } from "../errors.js";

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;

/** A non-negative number from an option, or a one-line usage error. */
function amount(option: string, unit: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new FhsError(`cache prune: ${option}: expected a number of ${unit} >= 0, not '${v}'`);
  return n;
}

export const cache: Action<"cache"> = ([action], o) => {
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
};
