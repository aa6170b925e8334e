import type { Action } from "../cli-config.js";
import { env as enter } from "../env.js";
import { layersFromSets } from "../layerset.js";

export const env: Action<"env"> = (_args, o) =>
  enter({ layers: [...o.layer, ...layersFromSets(o.layersFrom)], pkgs: o.pkg, command: o["--"], policy: o.policy, config: o.config });
