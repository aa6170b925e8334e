#!/usr/bin/env node
// The `fhs` command line. Every command and option is data (cli-config.ts);
// this file builds the cac instance from that table, parses argv into typed
// options (parseCLI, pure: tests call it without a process), and runs the
// matched command's action (src/commands/, each a thin wrapper over one
// library entry point). Errors are thrown as FhsError in the library and
// reported here, once, as one line with the error's exit code (src/errors.ts).
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { cac, type CAC } from "cac";
import { COMMANDS, type Action, type CommandName, type CommandSpec } from "./cli-config.js";
import * as buildCommand from "./commands/build.js";
import * as cacheCommand from "./commands/cache.js";
import * as conflictsCommand from "./commands/conflicts.js";
import * as doctorCommand from "./commands/doctor.js";
import * as envCommand from "./commands/env.js";
import * as layerCommand from "./commands/layer.js";
import * as policyCommand from "./commands/policy.js";
import * as wrapCommand from "./commands/wrap.js";
import { EXIT_USAGE, FhsError } from "./errors.js";
import { packageRoot } from "./paths.js";

// Node 18 (Debian 12's nodejs, which runs the CLI inside Nix builds:
// docs/NIX.md) has CustomEvent only behind a flag, and cac dispatches one per
// matched command. It is the one thing of Node 20 the CLI needs.
if (typeof globalThis.CustomEvent === "undefined") {
  class CustomEvent<T> extends Event {
    readonly detail: T | null;
    constructor(type: string, init?: EventInit & { detail?: T }) {
      super(type, init);
      this.detail = init?.detail ?? null;
    }
  }
  (globalThis as { CustomEvent?: unknown }).CustomEvent = CustomEvent;
}

const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;

/** Each command's action, checked against its options in the table. */
const ACTIONS: { [N in CommandName]: Action<N> } = {
  doctor: doctorCommand.doctor,
  layer: layerCommand.layer,
  policy: policyCommand.policy,
  wrap: wrapCommand.wrap,
  unwrap: wrapCommand.unwrap,
  plan: wrapCommand.plan,
  run: wrapCommand.run,
  conflicts: conflictsCommand.conflicts,
  checkInstall: conflictsCommand.checkInstall,
  build: buildCommand.build,
  env: envCommand.env,
  cache: cacheCommand.cache,
};

const commandOf = (spec: CommandSpec) => spec.name.split(" ")[0]!;

/** cac's options as the table types them: a repeatable option always a
 * list, a value always a string (cac turns `--max-age 7` into a number), a
 * switch a boolean, and what followed `--` a list. */
export function normalizeOptions(spec: CommandSpec, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw, "--": ((raw["--"] as unknown[] | undefined) ?? []).map(String) };
  for (const [key, o] of Object.entries(spec.options)) {
    const v = raw[key];
    if (o.repeatable) out[key] = v === undefined ? [] : ([] as unknown[]).concat(v).map(String);
    else if (Array.isArray(v)) throw new FhsError(`${o.flag.split(" ")[0]}: given ${v.length} times; it takes one value`);
    else if (v === undefined) out[key] = undefined;
    else out[key] = o.flag.includes("<") ? String(v) : Boolean(v);
  }
  return out;
}

/** The cac instance the table describes; a command runs its action. */
export function buildCli(): CAC {
  const cli = cac("fhs");
  for (const [name, spec] of Object.entries(COMMANDS) as [CommandName, CommandSpec][]) {
    const command = cli.command(spec.name, spec.description);
    if (spec.usage) command.usage(spec.usage);
    for (const e of spec.examples ?? []) command.example(e);
    for (const o of Object.values(spec.options)) command.option(o.flag, o.description, o.config);
    command.action((...values: unknown[]) => {
      const raw = values.pop() as Record<string, unknown>;
      const args = values.flatMap((v) => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]));
      return (ACTIONS[name] as Action<CommandName>)(args, normalizeOptions(spec, raw) as never);
    });
  }
  cli.help();
  cli.version(version);
  return cli;
}

export interface ParsedCLI {
  /** The matched command (`check-install`), or undefined for none. */
  command?: string;
  /** Its arguments, variadic ones spread; with no command, the words given. */
  args: string[];
  /** Typed as the table says (normalizeOptions); with no command, cac's. */
  options: Record<string, unknown>;
}

/** `fhs run DIR PROGRAM ARGS...`: ARGS belong to the program, options included. */
const runsProgram = (argv: string[]) => argv[0] === "run" && argv.length >= 3 && !argv[1]!.startsWith("-") && !argv[2]!.startsWith("-");

/** Parses argv (without node and script) as `fhs` would, running nothing. */
export function parseCLI(argv: string[]): ParsedCLI {
  if (runsProgram(argv)) {
    return { command: "run", args: argv.slice(1), options: { "--": [] } };
  }
  const cli = buildCli();
  const parsed = cli.parse(["node", "fhs", ...argv], { run: false });
  const matched = cli.matchedCommand;
  const spec = Object.values(COMMANDS).find((c) => commandOf(c) === matched?.name);
  if (!spec) return { args: parsed.args.map(String), options: parsed.options };
  return { command: commandOf(spec), args: parsed.args.map(String), options: normalizeOptions(spec, parsed.options) };
}

/** Parses argv and runs the matched command; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    if (runsProgram(argv)) return await ACTIONS.run(argv.slice(1), { "--": [] });
    const cli = buildCli();
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
  // `fhs plan … | head` closes the pipe early: that is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
