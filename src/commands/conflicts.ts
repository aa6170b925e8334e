import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Action, COMMANDS, OptionsOf } from "../cli-config.js";
import { checkConflicts, collectSources, formatReport, mergeConfigs, type ConflictReport, type ConflictStats, type LayerSource } from "../conflicts.js";
import { EXIT_OK, EXIT_VIOLATIONS, FhsError } from "../errors.js";
import { layersFromSets } from "../layerset.js";
import { bold, red, yellow } from "../output.js";
import { defaultPolicyWasm } from "../paths.js";
import { loadConfig, type PolicyConfig } from "../policy/config.js";
import { readPolicyModule } from "../policy/validate.js";

/** The options conflicts and check-install share. */
type Common = Pick<OptionsOf<typeof COMMANDS.conflicts | typeof COMMANDS.checkInstall>, "json" | "config" | "policy" | "stats">;

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

export const conflicts: Action<"conflicts"> = (_args, o) => {
  const layers = [...o.layer, ...layersFromSets(o.layersFrom)];
  if (layers.length + o.pkg.length === 0) throw new FhsError("usage: fhs conflicts [--layer DIR]... [--layers-from SET]... [--pkg WRAPPED_DIR]...");
  const { sources, configs } = collectSources({ layers, pkgs: o.pkg });
  return run("conflicts", sources, configs, o);
};

export const checkInstall: Action<"checkInstall"> = ([pkg], o) => {
  const into = [...o.into, ...layersFromSets(o.layersFrom)];
  if (into.length === 0) throw new FhsError("usage: fhs check-install PKG --into PROFILE_OR_VIEW... [--layers-from SET]...");
  // PKG's layers go on top, as when a wrapped program is launched inside the view.
  const mine = collectSources({ ...split([pkg!]), installing: true });
  const sources = [...mine.sources];
  for (const d of into) sources.push(...collectSources(split([d])).sources);
  return run("check-install", sources, mine.configs, o);
};
