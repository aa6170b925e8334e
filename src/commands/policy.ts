import type { CAC } from "cac";
import { FhsError } from "../errors.js";

/** `fhs policy <sub>`: cac matches one word, so subcommands dispatch here. */
type Sub = { usage: string; run: (args: string[], options: Record<string, unknown>) => Promise<number> | number };

const subcommands: Record<string, Sub> = {
  build: {
    usage: "fhs policy build FILE.ts -o FILE.wasm",
    run: async (args, options) => {
      const [entry] = args;
      const out = options.o as string | undefined;
      if (!entry || !out) throw new FhsError("usage: fhs policy build FILE.ts -o FILE.wasm");
      // The compiler (with binaryen) takes a while to load: only when needed.
      const { compilePolicy } = await import("../policy/compile.js");
      await compilePolicy(entry, out);
      return 0;
    },
  },
};

export function register(cli: CAC): void {
  cli
    .command("policy <action> [...args]", `Policy toolchain: ${Object.keys(subcommands).join(", ")}`)
    .option("-o <file>", "Output file (policy build)")
    .action((action: string, args: string[], options: Record<string, unknown>) => {
      const sub = subcommands[action];
      if (!sub) throw new FhsError(`unknown policy command '${action}'; known: ${Object.keys(subcommands).join(", ")}`);
      return sub.run(args, options);
    });
}
