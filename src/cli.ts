#!/usr/bin/env node
// The `fhs` command line. Each command lives in src/commands/ as a thin wrapper
// over one library entry point. Errors are thrown as FhsError in the library
// and reported here, once, as one line with the error's exit code (docs/CLI.md).
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { cac, type CAC } from "cac";
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
import { runWrapped } from "./run.js";

const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;

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

/** Every command module; each exports register(cli). */
const commands: { register(cli: CAC): void }[] = [doctorCommand, layerCommand, policyCommand, wrapCommand, conflictsCommand, buildCommand, envCommand, cacheCommand];

export function buildCli(): CAC {
  const cli = cac("fhs");
  for (const c of commands) c.register(cli);
  cli.help();
  cli.version(version);
  return cli;
}

/** Parses argv and runs the matched command; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const cli = buildCli();
  try {
    // `fhs run DIR PROGRAM ARGS...`: ARGS belong to the program, options included.
    if (argv[0] === "run" && argv.length >= 3 && !argv[1]!.startsWith("-") && !argv[2]!.startsWith("-")) {
      return runWrapped(argv[1]!, argv[2]!, argv.slice(3));
    }
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
