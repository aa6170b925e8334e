import { dirname } from "node:path";
import type { CAC } from "cac";
import { FhsError } from "../errors.js";

/** `fhs layer <sub>`: cac matches one word, so subcommands dispatch here. */
type Sub = { usage: string; run: (args: string[], options: LayerOptions) => Promise<number> | number };
interface LayerOptions {
  into?: string;
  as?: string;
  json?: boolean;
  set?: string;
  base?: boolean;
  package?: string;
  cache?: string;
  with?: string | string[];
}

const subcommands: Record<string, Sub> = {
  import: {
    usage: "fhs layer import PACKAGE.deb... --into STORE_DIR [--json] | fhs layer import PACKAGE.deb --as LAYER_DIR",
    run: async (debs, o) => {
      const as = typeof o.as === "string" && o.as !== "" ? o.as : undefined;
      if (debs.length === 0 || (as === undefined && (typeof o.into !== "string" || o.into === "")) || (as !== undefined && (debs.length > 1 || o.into !== undefined))) {
        throw new FhsError(`usage: ${subcommands.import!.usage}`);
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
  },
  fetch: {
    usage: "fhs layer fetch PKG... --into STORE_DIR [--with DEP]... [--set FILE] [--no-base] [--package OUTDIR] [--cache DIR] [--json]",
    run: async (pkgs, o) => {
      if (pkgs.length === 0 || typeof o.into !== "string" || o.into === "") {
        throw new FhsError(`usage: ${subcommands.fetch!.usage}`);
      }
      const { fetchLayers } = await import("../debfetch.js");
      const r = await fetchLayers({
        packages: pkgs,
        with: o.with === undefined ? [] : ([] as unknown[]).concat(o.with).map(String),
        into: o.into,
        set: o.set === undefined ? undefined : String(o.set),
        base: o.base !== false,
        packageDir: o.package === undefined ? undefined : String(o.package),
        cache: o.cache === undefined ? undefined : String(o.cache),
        progress: (line) => process.stderr.write(`fhs: ${line}\n`),
      });
      if (o.json) console.log(JSON.stringify(r.set, null, 2));
      else {
        console.log(r.setPath);
        if (r.packageDir) console.log(r.packageDir);
      }
      return 0;
    },
  },
};

export function register(cli: CAC): void {
  cli
    .command("layer <action> [...args]", `Layers: ${Object.keys(subcommands).join(", ")}`)
    .usage(`layer <action> [...args]\n\n${Object.values(subcommands).map((s) => `  ${s.usage}`).join("\n")}`)
    .option("--into <dir>", "Store directory for the layers (import, fetch)")
    .option("--as <dir>", "import: one .deb as exactly this new directory (a Nix build's $out)")
    .option("--set <file>", "Where fetch writes the layer set (default: STORE_DIR/<names joined by +>.set.json)")
    .option("--base", "fetch: add Debian's Essential packages and their closure (the default; --no-base leaves them out)")
    .option("--with <pkg>", "fetch: one more package in apt's solution as a dependency, not part of the package (repeatable; e.g. what Debian only recommends)")
    .option("--package <dir>", "fetch: also copy the requested packages' files into this fresh, writable directory, for fhs wrap")
    .option("--cache <dir>", "fetch: cache for .debs and apt's package cache (default: $FHS_CACHE_DIR, else $XDG_CACHE_HOME/fhs, else ~/.cache/fhs)")
    .option("--json", "Print results as JSON (import: the layers; fetch: the layer set)")
    .action((action: string, args: string[], options: LayerOptions) => {
      const sub = subcommands[action];
      if (!sub) throw new FhsError(`unknown layer command '${action}'; known: ${Object.keys(subcommands).join(", ")}`);
      return sub.run(args, options);
    });
}
