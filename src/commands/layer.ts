import type { CAC } from "cac";
import { FhsError } from "../errors.js";

/** `fhs layer <sub>`: cac matches one word, so subcommands dispatch here. */
type Sub = { usage: string; run: (args: string[], options: LayerOptions) => Promise<number> | number };
interface LayerOptions {
  into?: string;
  json?: boolean;
}

const subcommands: Record<string, Sub> = {
  import: {
    usage: "fhs layer import PACKAGE.deb... --into STORE_DIR [--json]",
    run: async (debs, o) => {
      if (debs.length === 0 || typeof o.into !== "string" || o.into === "") {
        throw new FhsError(`usage: ${subcommands.import!.usage}`);
      }
      const { importDeb } = await import("../debimport.js");
      const results = [];
      for (const deb of debs) {
        const r = await importDeb(deb, o.into);
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
};

export function register(cli: CAC): void {
  cli
    .command("layer <action> [...args]", `Layers: ${Object.keys(subcommands).join(", ")} (${subcommands.import!.usage})`)
    .option("--into <dir>", "Store directory for imported layers (layer import)")
    .option("--json", "Print results as JSON")
    .action((action: string, args: string[], options: LayerOptions) => {
      const sub = subcommands[action];
      if (!sub) throw new FhsError(`unknown layer command '${action}'; known: ${Object.keys(subcommands).join(", ")}`);
      return sub.run(args, options);
    });
}
