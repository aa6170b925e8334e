import { build as runBuild } from "../build.js";
import type { Action } from "../cli-config.js";
import { FhsError } from "../errors.js";
import { layersFromSets } from "../layerset.js";

export const build: Action<"build"> = async (_args, o) => {
  if (!o.out) throw new FhsError("build: --out OUT is required");
  const res = await runBuild({
    out: o.out,
    layers: [...o.layer, ...layersFromSets(o.layersFrom)],
    src: o.src,
    command: o["--"],
    policy: o.policy,
    config: o.config,
    network: !!o.network,
    sourceDateEpoch: o.sourceDateEpoch === undefined ? undefined : Number(o.sourceDateEpoch),
  });
  if (res.out) process.stderr.write(`fhs: built ${res.out}\n`);
  return res.exitCode;
};
