import type { CAC } from "cac";
import { FhsError } from "../errors.js";
import { layersFromSets } from "../layerset.js";
import { planLaunch } from "../plan.js";
import { formatRecords } from "../policy/records.js";
import { runWrapped } from "../run.js";
import { unwrap } from "../unwrap.js";
import { wrap } from "../wrap.js";

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

export function register(cli: CAC): void {
  cli
    .command("wrap <dir>", "Wrap DIR's executables so each runs in its own FHS view")
    .option("--layer <dep>", "A runtime dependency layer (repeatable, in order)")
    .option("--layers-from <set>", "A layer set (fhs layer fetch): its layers after the --layer ones, leaving out its requested packages, which DIR holds (repeatable)")
    .option("--policy <file>", "A custom policy module (.wasm)")
    .option("--config <file>", "A policy config (.json); default policies/default.json")
    .option("--json", "Print the manifest as JSON")
    .action(async (dir: string, o: { layer?: unknown; layersFrom?: unknown; policy?: string; config?: string; json?: boolean }) => {
      const layers = [...list(o.layer), ...layersFromSets(list(o.layersFrom), { withoutRequested: true })];
      const m = await wrap({ dir, layers, policy: o.policy, config: o.config });
      if (o.json) console.log(JSON.stringify(m, null, 2));
      else {
        console.log(`wrapped ${m.programs.length} program${m.programs.length === 1 ? "" : "s"} in ${m.package}: ${m.programs.join(" ")}`);
        console.log(`layers: ${m.layers.map((l) => l.path).join(" ")}`);
      }
      return 0;
    });

  cli
    .command("unwrap <dir>", "Put DIR's programs back where fhs wrap found them (also recovers a half-wrapped DIR)")
    .action((dir: string) => {
      const r = unwrap(dir);
      const n = r.restored.length;
      console.log(`unwrapped ${n} program${n === 1 ? "" : "s"} in ${r.package}${n ? `: ${r.restored.join(" ")}` : ""}`);
      if (r.lost.length > 0) {
        throw new FhsError(`package ${dir}: ${r.lost.map((p) => `usr/${p}`).join(" ")} had already been lost (usr/raw held a wrapper, not the program); restore it from the package's source`);
      }
      return 0;
    });

  cli
    .command("plan <wrapper>", "Print the plan a launch of WRAPPER (or package DIR) would carry out")
    .option("--inside <view>", "Plan as if inside a view of these layers or wrapped packages (repeatable)")
    .option("--json", "Print the plan as JSON records")
    .action(async (target: string, o: { inside?: unknown; json?: boolean }) => {
      const res = planLaunch(target, { inside: list(o.inside) });
      if (o.json) console.log(JSON.stringify(res.records));
      else console.log(formatRecords(res.records));
      if (res.status !== 0) throw new FhsError(`policy refused the launch: ${res.records[0]?.[1] ?? ""}`);
      return 0;
    });

  // The program's own options must not be parsed as fhs's: src/cli.ts hands
  // everything after PROGRAM to runWrapped untouched; this entry gives --help.
  cli
    .command("run <dir> <program> [...args]", "Run a wrapped program of package DIR with ARGS, untouched")
    .action((dir: string, program: string, args: string[]) => runWrapped(dir, program, args));
}
