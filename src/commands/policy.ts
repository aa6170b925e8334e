import { policyUsages, type Action, type COMMANDS, type OptionsOf } from "../cli-config.js";
import { FhsError } from "../errors.js";
import { green, red } from "../output.js";
import type { CheckOptions, ReportFormat } from "../policy/toolchain.js";

/** `fhs policy <sub>`: cac matches one word, so subcommands dispatch here. */
type Options = OptionsOf<typeof COMMANDS.policy>;
type Sub = (args: string[], o: Options) => Promise<number>;

const FORMATS: readonly ReportFormat[] = ["human", "json", "junit"];

function format(o: Options): ReportFormat {
  const f = o.format ?? "human";
  if (!FORMATS.includes(f as ReportFormat)) throw new FhsError(`--format ${f}: expected one of ${FORMATS.join(", ")}`);
  return f as ReportFormat;
}

function checkOptions(args: string[], o: Options): CheckOptions {
  return { paths: args, policy: o.policy, format: format(o), color: { green, red } };
}

const subcommands: Record<keyof typeof policyUsages, Sub> = {
  build: async (args, o) => {
    const [entry] = args;
    if (!entry || !o.o || args.length > 1) throw new FhsError(`usage: ${policyUsages.build}`);
    const { buildPolicy } = await import("../policy/toolchain.js");
    const size = await buildPolicy(entry, o.o);
    console.log(`built ${o.o} (${size} bytes): imports, exports, features and size checked`);
    return 0;
  },
  check: async (args, o) => {
    const { checkPolicies } = await import("../policy/toolchain.js");
    const r = await checkPolicies(checkOptions(args, o));
    console.log(r.report);
    return r.exitCode;
  },
  test: async (args, o) => {
    const { testPolicies } = await import("../policy/toolchain.js");
    const r = await testPolicies(checkOptions(args, o));
    console.log(r.report);
    return r.exitCode;
  },
  config: async (args, o) => {
    if (!o.o || args.length > 1) throw new FhsError(`usage: ${policyUsages.config}`);
    const { writeCompiledConfig } = await import("../policy/config.js");
    const n = writeCompiledConfig(args[0], o.o);
    console.log(`compiled ${args[0] ?? "the default config"} to ${o.o} (${n} records)`);
    return 0;
  },
  init: async (args) => {
    const [dir] = args;
    if (!dir || args.length > 1) throw new FhsError(`usage: ${policyUsages.init}`);
    const { initPolicy } = await import("../policy/toolchain.js");
    for (const f of initPolicy(dir)) console.log(`created ${f}`);
    console.log(`next: fhs policy build ${dir}/policy.ts -o ${dir}/policy.wasm && fhs policy test ${dir}`);
    return 0;
  },
};

export const policy: Action<"policy"> = ([action, ...args], o) => {
  const sub = action !== undefined && Object.hasOwn(subcommands, action) ? subcommands[action as keyof typeof subcommands] : undefined;
  if (!sub) throw new FhsError(`unknown policy command '${action}'; known: ${Object.keys(subcommands).join(", ")}`);
  return sub(args, o);
};
