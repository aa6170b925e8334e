import type { CAC } from "cac";
import { FhsError } from "../errors.js";
import { green, red } from "../output.js";
import type { CheckOptions, ReportFormat } from "../policy/toolchain.js";

/** `fhs policy <sub>`: cac matches one word, so subcommands dispatch here. */
type Sub = { usage: string; run: (args: string[], options: Record<string, unknown>) => Promise<number> | number };

const FORMATS: readonly ReportFormat[] = ["human", "json", "junit"];

function format(options: Record<string, unknown>): ReportFormat {
  const f = (options.format as string | undefined) ?? "human";
  if (!FORMATS.includes(f as ReportFormat)) throw new FhsError(`--format ${f}: expected one of ${FORMATS.join(", ")}`);
  return f as ReportFormat;
}

function checkOptions(args: string[], options: Record<string, unknown>): CheckOptions {
  return { paths: args, policy: options.policy as string | undefined, format: format(options), color: { green, red } };
}

const subcommands: Record<string, Sub> = {
  build: {
    usage: "fhs policy build FILE.ts -o FILE.wasm",
    run: async (args, options) => {
      const [entry] = args;
      const out = options.o as string | undefined;
      if (!entry || !out || args.length > 1) throw new FhsError("usage: fhs policy build FILE.ts -o FILE.wasm");
      const { buildPolicy } = await import("../policy/toolchain.js");
      const size = await buildPolicy(entry, out);
      console.log(`built ${out} (${size} bytes): imports, exports, features and size checked`);
      return 0;
    },
  },
  check: {
    usage: "fhs policy check [PATH...] [--policy FILE.wasm] [--format human|json|junit]",
    run: async (args, options) => {
      const { checkPolicies } = await import("../policy/toolchain.js");
      const r = await checkPolicies(checkOptions(args, options));
      console.log(r.report);
      return r.exitCode;
    },
  },
  test: {
    usage: "fhs policy test [DIR...] [--policy FILE.wasm] [--format human|json|junit]",
    run: async (args, options) => {
      const { testPolicies } = await import("../policy/toolchain.js");
      const r = await testPolicies(checkOptions(args, options));
      console.log(r.report);
      return r.exitCode;
    },
  },
  config: {
    usage: "fhs policy config [FILE.json] -o FILE.bin",
    run: async (args, options) => {
      const out = options.o as string | undefined;
      if (!out || args.length > 1) throw new FhsError("usage: fhs policy config [FILE.json] -o FILE.bin");
      const { writeCompiledConfig } = await import("../policy/config.js");
      const n = writeCompiledConfig(args[0], out);
      console.log(`compiled ${args[0] ?? "the default config"} to ${out} (${n} records)`);
      return 0;
    },
  },
  init: {
    usage: "fhs policy init DIR",
    run: async (args) => {
      const [dir] = args;
      if (!dir || args.length > 1) throw new FhsError("usage: fhs policy init DIR");
      const { initPolicy } = await import("../policy/toolchain.js");
      for (const f of initPolicy(dir)) console.log(`created ${f}`);
      console.log(`next: fhs policy build ${dir}/policy.ts -o ${dir}/policy.wasm && fhs policy test ${dir}`);
      return 0;
    },
  },
};

export function register(cli: CAC): void {
  cli
    .command("policy <action> [...args]", `Policy toolchain: ${Object.keys(subcommands).join(", ")}`)
    .usage(`policy <action> [...args]\n\n${Object.values(subcommands).map((s) => `  ${s.usage}`).join("\n")}`)
    .option("-o <file>", "Output file (policy build, policy config)")
    .option("--policy <file>", "The policy module cases run against (check, test); default: DIR/policy.wasm, else the built-in policy")
    .option("--format <format>", "Report format (check, test): human, json or junit", { default: "human" })
    .action((action: string, args: string[], options: Record<string, unknown>) => {
      const sub = subcommands[action];
      if (!sub) throw new FhsError(`unknown policy command '${action}'; known: ${Object.keys(subcommands).join(", ")}`);
      return sub.run(args, options);
    });
}
