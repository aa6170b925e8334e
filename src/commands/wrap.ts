import type { Action } from "../cli-config.js";
import { FhsError } from "../errors.js";
import { layersFromSets } from "../layerset.js";
import { planLaunch } from "../plan.js";
import { formatRecords } from "../policy/records.js";
import { runWrapped } from "../run.js";
import { unwrap as unwrapPackage } from "../unwrap.js";
import { wrap as wrapPackage } from "../wrap.js";

export const wrap: Action<"wrap"> = async ([dir], o) => {
  const layers = [...o.layer, ...layersFromSets(o.layersFrom, { withoutRequested: true })];
  const m = await wrapPackage({ dir: dir!, layers, policy: o.policy, config: o.config });
  if (o.json) console.log(JSON.stringify(m, null, 2));
  else {
    console.log(`wrapped ${m.programs.length} program${m.programs.length === 1 ? "" : "s"} in ${m.package}: ${m.programs.join(" ")}`);
    console.log(`layers: ${m.layers.map((l) => l.path).join(" ")}`);
  }
  return 0;
};

export const unwrap: Action<"unwrap"> = ([dir]) => {
  const r = unwrapPackage(dir!);
  const n = r.restored.length;
  console.log(`unwrapped ${n} program${n === 1 ? "" : "s"} in ${r.package}${n ? `: ${r.restored.join(" ")}` : ""}`);
  if (r.lost.length > 0) {
    throw new FhsError(`package ${dir}: ${r.lost.map((p) => `usr/${p}`).join(" ")} had already been lost (usr/raw held a wrapper, not the program); restore it from the package's source`);
  }
  return 0;
};

export const plan: Action<"plan"> = async ([target], o) => {
  const res = await planLaunch(target!, { inside: o.inside });
  if (o.json) console.log(JSON.stringify(res.records));
  else console.log(formatRecords(res.records));
  if (res.status !== 0) throw new FhsError(`policy refused the launch: ${res.records[0]?.[1] ?? ""}`);
  return 0;
};

export const run: Action<"run"> = ([dir, program, ...args]) => runWrapped(dir!, program!, args);
