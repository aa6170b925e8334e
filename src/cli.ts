#!/usr/bin/env node
// The `fhs` command line. Every command is a thin wrapper over one library
// entry point; errors are thrown as FhsError in the library and reported here,
// once, as one line with the error's exit code (docs/CLI.md).
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { cac, type CAC } from "cac";
import { doctor } from "./doctor.js";
import { EXIT_USAGE, EXIT_VIOLATIONS, FhsError } from "./errors.js";
import { packageRoot } from "./paths.js";

const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;

const color = (code: number) => (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = color(32);
export const red = color(31);

/** Commands with subcommands (`fhs policy build`) dispatch to a second table. */
type Sub = { usage: string; run: (args: string[], options: Record<string, unknown>) => Promise<number> | number };
const policySubcommands: Record<string, Sub> = {
  build: {
    usage: "fhs policy build FILE.ts -o FILE.wasm",
    run: async (args, options) => {
      const [entry] = args;
      const out = options.o as string | undefined;
      if (!entry || !out) throw new FhsError("usage: fhs policy build FILE.ts -o FILE.wasm");
      // The compiler (with binaryen) takes a while to load: only when needed.
      const { compilePolicy } = await import("./policy/compile.js");
      await compilePolicy(entry, out);
      return 0;
    },
  },
};

export function buildCli(): CAC {
  const cli = cac("fhs");

  cli
    .command("doctor", "Check that this machine can build and run fhs views")
    .option("--json", "Print the findings as JSON")
    .action((options: { json?: boolean }) => {
      const findings = doctor();
      if (options.json) {
        console.log(JSON.stringify(findings, null, 2));
      } else {
        for (const f of findings) {
          console.log(`${f.ok ? green("ok  ") : red("FAIL")} ${f.name.padEnd(18)} ${f.detail}`);
          if (!f.ok && f.remedy) console.log(`     ${"".padEnd(18)} remedy: ${f.remedy}`);
        }
      }
      return findings.every((f) => f.ok) ? 0 : EXIT_VIOLATIONS;
    });

  cli
    .command("policy <action> [...args]", `Policy toolchain: ${Object.keys(policySubcommands).join(", ")}`)
    .option("-o <file>", "Output file (policy build)")
    .action((action: string, args: string[], options: Record<string, unknown>) => {
      const sub = policySubcommands[action];
      if (!sub) throw new FhsError(`unknown policy command '${action}'; known: ${Object.keys(policySubcommands).join(", ")}`);
      return sub.run(args, options);
    });

  cli.help();
  cli.version(version);
  return cli;
}

/** Parses argv and runs the matched command; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const cli = buildCli();
  try {
    cli.parse(["node", "fhs", ...argv], { run: false });
    if (!cli.matchedCommand) {
      if (cli.options.help || cli.options.version) return 0;
      if (cli.args.length > 0) throw new FhsError(`unknown command '${cli.args[0]}'; see fhs --help`);
      cli.outputHelp();
      return 0;
    }
    const code = await cli.runMatchedCommand();
    return typeof code === "number" ? code : 0;
  } catch (e) {
    if (e instanceof FhsError) {
      process.stderr.write(`fhs: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof Error && e.name === "CACError") {
      process.stderr.write(`fhs: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`fhs: internal error: ${(e as Error).stack ?? e}\n`);
    return EXIT_USAGE;
  }
}

// Run when executed (directly, or through npm's bin symlink), not when imported.
const invoked = process.argv[1] ? realpathSync(process.argv[1]) : "";
if (invoked && import.meta.url === new URL(`file://${invoked}`).href) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
