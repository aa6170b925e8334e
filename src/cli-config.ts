// Every command and option of the `fhs` command line, as data. src/cli.ts
// builds the cac instance from this table and parses argv with it; each
// command's action (src/commands/) gets its options typed from its entry
// here, so an option used but not declared is a type error, and a repeatable
// option is always a list (no per-command helper to make it one).
import type { Command } from "cac";
import { DEFAULT_MAX_AGE_DAYS } from "./cache.js";

/** cac's own types for an option's config and a command's example. */
type CacOptionConfig = NonNullable<Parameters<Command["option"]>[2]>;
type CacExample = Parameters<Command["example"]>[0];

export interface OptionSpec {
  /** cac's raw name: `--layer <dep>` takes a value, `--json` is a switch. */
  readonly flag: string;
  readonly description: string;
  /** May be given more than once; its value is every one of them, in order. */
  readonly repeatable?: true;
  readonly config?: CacOptionConfig;
}

export interface CommandSpec {
  /** cac's raw name, with the command's arguments: `wrap <dir>`. */
  readonly name: string;
  readonly description: string;
  readonly usage?: string;
  readonly examples?: readonly CacExample[];
  /** Keyed by the name the action reads: cac's camelCase of the flag (`--layers-from`: layersFrom). */
  readonly options: Readonly<Record<string, OptionSpec>>;
}

/** What an option's value is once parsed (src/cli.ts, normalizeOptions). */
type ValueOf<S extends OptionSpec> = S extends { repeatable: true }
  ? string[]
  : S["flag"] extends `${string}<${string}>`
    ? string | undefined
    : boolean | undefined;

/** A command's parsed options: one field per declared option, and what followed `--`. */
export type OptionsOf<C extends CommandSpec> = { -readonly [K in keyof C["options"]]: ValueOf<C["options"][K]> } & { "--": string[] };

// Options several commands share, word for word.
const layerSet = { flag: "--layers-from <set>", description: "A layer set (fhs layer fetch): all its layers, after the --layer ones (repeatable)", repeatable: true } as const;
const customPolicy = { flag: "--policy <file>", description: "A custom policy module (.wasm)" } as const;
const policyConfig = { flag: "--config <file>", description: "A policy config (.json); default policies/default.json" } as const;
const reportPolicy = { flag: "--policy <file>", description: "Policy module; default build/policy.wasm" } as const;
const stats = { flag: "--stats", description: "Print timings to stderr" } as const;

export const layerUsages = {
  import: "fhs layer import PACKAGE.deb... --into STORE_DIR [--json] | fhs layer import PACKAGE.deb --as LAYER_DIR",
  fetch: "fhs layer fetch PKG... --into STORE_DIR [--with DEP]... [--set FILE] [--no-base] [--package OUTDIR] [--cache DIR] [--json]",
} as const;

export const policyUsages = {
  build: "fhs policy build FILE.ts -o FILE.wasm",
  check: "fhs policy check [PATH...] [--policy FILE.wasm] [--format human|json|junit]",
  test: "fhs policy test [DIR...] [--policy FILE.wasm] [--format human|json|junit]",
  config: "fhs policy config [FILE.json] -o FILE.bin",
  init: "fhs policy init DIR",
} as const;

const subcommandUsage = (command: string, usages: Record<string, string>) =>
  `${command} <action> [...args]\n\n${Object.values(usages).map((u) => `  ${u}`).join("\n")}`;

/** In the order `fhs --help` lists them. */
export const COMMANDS = {
  doctor: {
    name: "doctor",
    description: "Check that this machine can build and run fhs views",
    options: {
      json: { flag: "--json", description: "Print the findings as JSON" },
    },
  },
  layer: {
    name: "layer <action> [...args]",
    description: `Layers: ${Object.keys(layerUsages).join(", ")}`,
    usage: subcommandUsage("layer", layerUsages),
    options: {
      into: { flag: "--into <dir>", description: "Store directory for the layers (import, fetch)" },
      as: { flag: "--as <dir>", description: "import: one .deb as exactly this new directory (a Nix build's $out)" },
      set: { flag: "--set <file>", description: "Where fetch writes the layer set (default: STORE_DIR/<names joined by +>.set.json)" },
      base: { flag: "--base", description: "fetch: add Debian's Essential packages and their closure (the default; --no-base leaves them out)" },
      with: { flag: "--with <pkg>", description: "fetch: one more package in apt's solution as a dependency, not part of the package (repeatable; e.g. what Debian only recommends)", repeatable: true },
      package: { flag: "--package <dir>", description: "fetch: also copy the requested packages' files into this fresh, writable directory, for fhs wrap" },
      cache: { flag: "--cache <dir>", description: "fetch: cache for .debs and apt's package cache (default: $FHS_CACHE_DIR, else $XDG_CACHE_HOME/fhs, else ~/.cache/fhs)" },
      json: { flag: "--json", description: "Print results as JSON (import: the layers; fetch: the layer set)" },
    },
  },
  policy: {
    name: "policy <action> [...args]",
    description: `Policy toolchain: ${Object.keys(policyUsages).join(", ")}`,
    usage: subcommandUsage("policy", policyUsages),
    options: {
      o: { flag: "-o <file>", description: "Output file (policy build, policy config)" },
      policy: { flag: "--policy <file>", description: "The policy module cases run against (check, test); default: DIR/policy.wasm, else the built-in policy" },
      format: { flag: "--format <format>", description: "Report format (check, test): human, json or junit", config: { default: "human" } },
    },
  },
  wrap: {
    name: "wrap <dir>",
    description: "Wrap DIR's executables so each runs in its own FHS view",
    options: {
      layer: { flag: "--layer <dep>", description: "A runtime dependency layer (repeatable, in order); a wrapped package stands for its own layers, its programs first", repeatable: true },
      layersFrom: { ...layerSet, description: "A layer set (fhs layer fetch): its layers after the --layer ones, leaving out its requested packages, which DIR holds (repeatable)" },
      policy: customPolicy,
      config: policyConfig,
      json: { flag: "--json", description: "Print the manifest as JSON" },
    },
  },
  unwrap: {
    name: "unwrap <dir>",
    description: "Put DIR's programs back where fhs wrap found them (also recovers a half-wrapped DIR)",
    options: {},
  },
  plan: {
    name: "plan <wrapper>",
    description: "Print the plan a launch of WRAPPER (or package DIR) would carry out",
    options: {
      inside: { flag: "--inside <view>", description: "Plan as if inside a view of these layers or wrapped packages (repeatable)", repeatable: true },
      json: { flag: "--json", description: "Print the plan as JSON records" },
    },
  },
  // The program's own options must not be parsed as fhs's: parseCLI hands
  // everything after PROGRAM to the command untouched; this entry gives --help.
  run: {
    name: "run <dir> <program> [...args]",
    description: "Run a wrapped program of package DIR with ARGS, untouched",
    options: {},
  },
  conflicts: {
    name: "conflicts",
    description: "Report paths that more than one layer provides: who wins, who loses, what breaks",
    options: {
      layer: { flag: "--layer <dir>", description: "A layer (repeatable, in order: the first provider of a path wins)", repeatable: true },
      layersFrom: layerSet,
      pkg: { flag: "--pkg <dir>", description: "A wrapped package: its manifest's layers (repeatable; before --layer layers)", repeatable: true },
      config: { flag: "--config <file>", description: "Policy config for severities and overrides; default policies/default.json" },
      policy: reportPolicy,
      json: { flag: "--json", description: "Print the report as JSON (policies/schema/conflict-report.schema.json)" },
      stats,
    },
  },
  checkInstall: {
    name: "check-install <pkg>",
    description: "Report what installing PKG (wrapped package or layer) into a set of layers would break",
    options: {
      into: { flag: "--into <dir>", description: "The existing set or view: layers or wrapped packages (repeatable, in order)", repeatable: true },
      layersFrom: { ...layerSet, description: "A layer set (fhs layer fetch): its layers join the existing set, after the --into ones (repeatable)" },
      config: { flag: "--config <file>", description: "Policy config; default: PKG's own (wrapped) or policies/default.json" },
      policy: reportPolicy,
      json: { flag: "--json", description: "Print the report as JSON" },
      stats,
    },
  },
  build: {
    name: "build",
    description: "Run COMMAND in a pure build view; what it installs under /usr becomes OUT/usr",
    usage: "build --out OUT [--layer DEP]... [--layers-from SET]... [--src PATH] -- COMMAND...",
    examples: ["fhs build --out ./hello --src hello-2.10.tar.gz --layer ... -- sh -c './configure --prefix=/usr && make && make install'"],
    options: {
      out: { flag: "--out <dir>", description: "Where the result goes (must not exist; written atomically)" },
      layer: { flag: "--layer <dep>", description: "A build dependency layer (repeatable, in order); a wrapped package stands for its own layers, its programs first", repeatable: true },
      layersFrom: layerSet,
      src: { flag: "--src <path>", description: "Source: a tarball (gz, xz, bz2, zst) is unpacked, a directory copied, into /build" },
      policy: customPolicy,
      config: policyConfig,
      network: { flag: "--network", description: "Let the build reach the network (default: loopback only)" },
      sourceDateEpoch: { flag: "--source-date-epoch <n>", description: "SOURCE_DATE_EPOCH and OUT's timestamps (default 315532800)" },
    },
  },
  env: {
    name: "env",
    description: "Enter a dev environment: a view of the layers and packages, with a shell or COMMAND",
    usage: "env [--layer DEP]... [--layers-from SET]... [--pkg WRAPPED_DIR]... [-- COMMAND...]",
    options: {
      layer: { flag: "--layer <dep>", description: "A layer in the view (repeatable, in order); a wrapped package stands for its own layers, its programs first", repeatable: true },
      layersFrom: layerSet,
      pkg: { flag: "--pkg <dir>", description: "A wrapped package: its layers join the view (repeatable)", repeatable: true },
      policy: customPolicy,
      config: policyConfig,
    },
  },
  cache: {
    name: "cache <action>",
    description: "prune: remove cached plans and ld.so.caches not used lately (every one can be made again)",
    usage: "cache prune [--max-age DAYS] [--max-size MIB] [--all]",
    options: {
      maxAge: { flag: "--max-age <days>", description: `Remove entries not used for DAYS days (default ${DEFAULT_MAX_AGE_DAYS})` },
      maxSize: { flag: "--max-size <mib>", description: "Then remove the least recently used until each cache holds at most MIB MiB" },
      all: { flag: "--all", description: "Remove every entry" },
    },
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

/** A command's action: its arguments (variadic ones spread) and its typed options; returns the exit code. */
export type Action<N extends CommandName> = (args: string[], options: OptionsOf<(typeof COMMANDS)[N]>) => number | Promise<number>;
