import { dirname } from "node:path";
import { layerUsages, type Action, type COMMANDS, type OptionsOf } from "../cli-config.js";
import { FhsError } from "../errors.js";

/** `fhs layer <sub>`: cac matches one word, so subcommands dispatch here. */
type Sub = (args: string[], o: OptionsOf<typeof COMMANDS.layer>) => Promise<number>;

const subcommands: Record<keyof typeof layerUsages, Sub> = {
  import: async (debs, o) => {
    const as = o.as ? o.as : undefined;
    if (debs.length === 0 || (as === undefined && !o.into) || (as !== undefined && (debs.length > 1 || o.into !== undefined))) {
      throw new FhsError(`usage: ${layerUsages.import}`);
    }
    const { importDeb } = await import("../debimport.js");
    const results = [];
    for (const deb of debs) {
      const r = await importDeb(deb, as === undefined ? o.into! : dirname(as), { as });
      results.push(r);
      if (!o.json) {
        for (const n of r.notes) if (r.created) process.stderr.write(`fhs: note: ${r.layer}: ${n}\n`);
        if (!r.created) process.stderr.write(`fhs: ${deb}: already imported as ${r.layer}\n`);
        console.log(r.layer);
      }
    }
    if (o.json) console.log(JSON.stringify(results, null, 2));
    return 0;
  },
  fetch: async (pkgs, o) => {
    if (pkgs.length === 0 || !o.into) throw new FhsError(`usage: ${layerUsages.fetch}`);
    const { fetchLayers } = await import("../debfetch.js");
    const r = await fetchLayers({
      packages: pkgs,
      with: o.with,
      into: o.into,
      set: o.set,
      base: o.base !== false,
      packageDir: o.package,
      cache: o.cache,
      progress: (line) => process.stderr.write(`fhs: ${line}\n`),
    });
    if (o.json) console.log(JSON.stringify(r.set, null, 2));
    else {
      console.log(r.setPath);
      if (r.packageDir) console.log(r.packageDir);
    }
    return 0;
  },
};

export const layer: Action<"layer"> = ([action, ...args], o) => {
  const sub = action !== undefined && Object.hasOwn(subcommands, action) ? subcommands[action as keyof typeof subcommands] : undefined;
  if (!sub) throw new FhsError(`unknown layer command '${action}'; known: ${Object.keys(subcommands).join(", ")}`);
  return sub(args, o);
};
