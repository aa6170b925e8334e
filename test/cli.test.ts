// The command line's parsing, as data (src/cli-config.ts) and without a
// process: parseCLI is what runCli runs on, so what these assert is what a
// user's argv becomes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COMMANDS } from "../src/cli-config.js";
import { parseCLI } from "../src/cli.js";
import { FhsError } from "../src/errors.js";

describe("parseCLI", () => {
  it("a repeatable option is a list in argv order, given once or not at all", () => {
    const p = parseCLI(["wrap", "pkg", "--layer", "/l/a", "--layer", "/l/b", "--layers-from", "s.json", "--json"]);
    assert.equal(p.command, "wrap");
    assert.deepEqual(p.args, ["pkg"]);
    assert.deepEqual(p.options.layer, ["/l/a", "/l/b"]);
    assert.deepEqual(p.options.layersFrom, ["s.json"]);
    assert.equal(p.options.json, true);
    assert.equal(p.options.policy, undefined);
    assert.deepEqual(parseCLI(["wrap", "pkg"]).options.layer, []);
  });

  it("a value is a string even where cac reads a number; what follows -- is the command", () => {
    const p = parseCLI(["build", "--out", "123", "--source-date-epoch", "0", "--", "sh", "-c", "make --jobs 2"]);
    assert.equal(p.command, "build");
    assert.equal(p.options.out, "123");
    assert.equal(p.options.sourceDateEpoch, "0");
    assert.deepEqual(p.options["--"], ["sh", "-c", "make --jobs 2"]);
    assert.equal(p.options.network, undefined);
  });

  it("subcommands: the action and its arguments, --no-base, a default from the table", () => {
    const f = parseCLI(["layer", "fetch", "gcc", "make", "--into", "store", "--no-base", "--with", "libc6-dev", "--with", "zlib1g-dev"]);
    assert.equal(f.command, "layer");
    assert.deepEqual(f.args, ["fetch", "gcc", "make"]);
    assert.equal(f.options.base, false);
    assert.deepEqual(f.options.with, ["libc6-dev", "zlib1g-dev"]);
    const t = parseCLI(["policy", "test", "dir"]);
    assert.equal(t.options.format, "human");
    assert.equal(parseCLI(["policy", "build", "p.ts", "-o", "p.wasm"]).options.o, "p.wasm");
    assert.equal(parseCLI(["check-install", "pkg", "--into", "v"]).command, "check-install");
  });

  it("fhs run hands everything after PROGRAM to the program, options included", () => {
    const p = parseCLI(["run", "hello", "hello", "--json", "-g", "Hi", "--", "x"]);
    assert.deepEqual(p, { command: "run", args: ["hello", "hello", "--json", "-g", "Hi", "--", "x"], options: { "--": [] } });
  });

  it("an option that takes one value, given twice, is a usage error", () => {
    assert.throws(() => parseCLI(["build", "--out", "a", "--out", "b"]), (e: unknown) => e instanceof FhsError && e.exitCode === 2 && e.message === "--out: given 2 times; it takes one value");
  });

  it("no command: the words given, for runCli's 'unknown command'", () => {
    const p = parseCLI(["frobnicate", "x"]);
    assert.equal(p.command, undefined);
    assert.deepEqual(p.args, ["frobnicate", "x"]);
  });

  it("every option in the table is read under its key: the key is cac's name for the flag", () => {
    for (const spec of Object.values(COMMANDS)) {
      const words = spec.name.split(" ");
      const args = words.slice(1).map((w) => (w.startsWith("[") ? undefined : "x")).filter((w) => w !== undefined);
      for (const [key, o] of Object.entries(spec.options)) {
        const flag = o.flag.split(" ")[0]!;
        const takesValue = o.flag.includes("<");
        const p = parseCLI([words[0]!, ...args, flag, ...(takesValue ? ["v"] : [])]);
        assert.equal(p.command, words[0], `${words[0]} ${flag}`);
        const want = "repeatable" in o ? ["v"] : takesValue ? "v" : true;
        assert.deepEqual(p.options[key], want, `${words[0]} ${flag} is read as ${key}`);
      }
    }
  });
});
