import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CAC } from "cac";
import { checkConflicts, collectSources, formatReport, mergeConfigs, type ConflictReport, type ConflictStats, type LayerSource } from "../conflicts.js";
import { EXIT_OK, EXIT_VIOLATIONS, FhsError } from "../errors.js";
import { layersFromSets } from "../layerset.js";
import { bold, red, yellow } from "../output.js";
import { defaultPolicyWasm } from "../paths.js";
import { loadConfig, type PolicyConfig } from "../policy/config.js";
import { readPolicyModule } from "../policy/validate.js";

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

interface Common {
  json?: boolean;
  config?: string;
  policy?: string;
  stats?: boolean;
}

/** Progress on a TTY, and only once a scan has taken more than a moment. */
function progressReporter(): { progress: (msg: string) => void; done: () => void } {
  if (!process.stderr.isTTY) return { progress: () => {}, done: () => {} };
  const start = Date.now();
  let shown = false;
  let last = 0;
  return {
    progress: (msg) => {
      const now = Date.now();
      if (now - start < 700 || now - last < 100) return;
      last = now;
      shown = true;
      process.stderr.write(`\r\x1b[Kfhs: ${msg}`);
    },
    done: () => {
      if (shown) process.stderr.write("\r\x1b[K");
    },
  };
}

async function run(command: ConflictReport["command"], sources: LayerSource[], configs: PolicyConfig[], o: Common): Promise<number> {
  const base = loadConfig(o.config);
  const config = mergeConfigs(base, configs);
  const policyPath = o.policy ?? defaultPolicyWasm;
  const p = progressReporter();
  let result: { report: ConflictReport; stats: ConflictStats };
  try {
    result = await checkConflicts({ sources, config, policy: readPolicyModule(policyPath).bytes, policyName: policyPath, command, progress: p.progress });
  } finally {
    p.done();
  }
  const { report, stats } = result;
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(formatReport(report, { red, yellow, bold }));
  if (o.stats) {
    const secs = stats.totalMs / 1000;
    process.stderr.write(
      `fhs: stats: ${report.summary.entries} entries in ${report.summary.layers} layers, ${stats.filesRead} files read; ` +
        `walk ${stats.walkMs.toFixed(0)} ms, read ${stats.readMs.toFixed(0)} ms, policy ${stats.policyMs.toFixed(0)} ms ` +
        `(${stats.chunks} chunks, ${stats.inputBytes} bytes, ${((100 * stats.policyMs) / stats.totalMs).toFixed(1)}% of the time); ` +
        `total ${stats.totalMs.toFixed(0)} ms, ${(report.summary.entries / secs).toFixed(0)} entries/s\n`,
    );
  }
  return report.summary.error > 0 ? EXIT_VIOLATIONS : EXIT_OK;
}

/** A wrapped package (has .fhs/manifest.json) or a plain layer directory. */
function split(dirs: string[]): { pkgs: string[]; layers: string[] } {
  const pkgs: string[] = [];
  const layers: string[] = [];
  for (const d of dirs) (existsSync(join(d, ".fhs", "manifest.json")) ? pkgs : layers).push(d);
  return { pkgs, layers };
}

export function register(cli: CAC): void {
  cli
    .command("conflicts", "Report paths that more than one layer provides: who wins, who loses, what breaks")
    .option("--layer <dir>", "A layer (repeatable, in order: the first provider of a path wins)")
    .option("--layers-from <set>", "A layer set (fhs layer fetch): all its layers, after the --layer ones (repeatable)")
    .option("--pkg <dir>", "A wrapped package: its manifest's layers (repeatable; before --layer layers)")
    .option("--config <file>", "Policy config for severities and overrides; default policies/default.json")
    .option("--policy <file>", "Policy module; default build/policy.wasm")
    .option("--json", "Print the report as JSON (policies/schema/conflict-report.schema.json)")
    .option("--stats", "Print timings to stderr")
    .action(async (o: Common & { layer?: unknown; layersFrom?: unknown; pkg?: unknown }) => {
      const layers = [...list(o.layer), ...layersFromSets(list(o.layersFrom))];
      const pkgs = list(o.pkg);
      if (layers.length + pkgs.length === 0) throw new FhsError("usage: fhs conflicts [--layer DIR]... [--layers-from SET]... [--pkg WRAPPED_DIR]...");
      const { sources, configs } = collectSources({ layers, pkgs });
      return run("conflicts", sources, configs, o);
    });

  cli
    .command("check-install <pkg>", "Report what installing PKG (wrapped package or layer) into a set of layers would break")
    .option("--into <dir>", "The existing set or view: layers or wrapped packages (repeatable, in order)")
    .option("--layers-from <set>", "A layer set (fhs layer fetch): its layers join the existing set, after the --into ones (repeatable)")
    .option("--config <file>", "Policy config; default: PKG's own (wrapped) or policies/default.json")
    .option("--policy <file>", "Policy module; default build/policy.wasm")
    .option("--json", "Print the report as JSON")
    .option("--stats", "Print timings to stderr")
    .action(async (pkg: string, o: Common & { into?: unknown; layersFrom?: unknown }) => {
      const into = [...list(o.into), ...layersFromSets(list(o.layersFrom))];
      if (into.length === 0) throw new FhsError("usage: fhs check-install PKG --into PROFILE_OR_VIEW... [--layers-from SET]...");
      // PKG's layers go on top, as when a wrapped program is launched inside the view.
      const mine = collectSources({ ...split([pkg]), installing: true });
      const sources = [...mine.sources];
      for (const d of into) sources.push(...collectSources(split([d])).sources);
      return run("check-install", sources, mine.configs, o);
    });
}
