import type { CAC } from "cac";
import { env } from "../env.js";
import { layersFromSets } from "../layerset.js";

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

export function register(cli: CAC): void {
  cli
    .command("env", "Enter a dev environment: a view of the layers and packages, with a shell or COMMAND")
    .usage("env [--layer DEP]... [--layers-from SET]... [--pkg WRAPPED_DIR]... [-- COMMAND...]")
    .option("--layer <dep>", "A layer in the view (repeatable, in order)")
    .option("--layers-from <set>", "A layer set (fhs layer fetch): all its layers, after the --layer ones (repeatable)")
    .option("--pkg <dir>", "A wrapped package: its layers join the view (repeatable)")
    .option("--policy <file>", "A custom policy module (.wasm)")
    .option("--config <file>", "A policy config (.json); default policies/default.json")
    .action(async (o: { layer?: unknown; layersFrom?: unknown; pkg?: unknown; policy?: string; config?: string; "--"?: string[] }) =>
      env({ layers: [...list(o.layer), ...layersFromSets(list(o.layersFrom))], pkgs: list(o.pkg), command: o["--"] ?? [], policy: o.policy, config: o.config }),
    );
}
