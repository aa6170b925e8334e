// Compiles a policy written in AssemblyScript with the project's fixed flags.
// The default policy (assembly/index.ts) and packagers' custom ones go through
// this one function, so they are held to the same runtime and limits.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import asc from "assemblyscript/asc";
import { FhsError } from "../errors.js";
import { packageRoot } from "../paths.js";
import { LIMITS } from "../abi.js";
import { mergeDataSegments } from "./merge-data.js";

/** Fixed flags: the stub runtime (no GC: a policy runs once and exits), and no
 * feature beyond what both hosts share. Optimized for speed with light
 * shrinking (-O3 --shrinkLevel 1), not for size (-Oz): wasm3 compiles only the
 * functions a launch calls, and interprets every call with a frame of its own,
 * so inlining the small helpers (a string's length: -Oz leaves it a call,
 * ~2800 a cold launch) costs fewer instructions at a cold launch than the
 * bytes it adds (measured: docs/ARCHITECTURE.md, "The policy's cost at a
 * cold launch"). */
export const POLICY_ASC_FLAGS: readonly string[] = [
  "--runtime", "stub",
  "-O3",
  "--shrinkLevel", "1",
  "--noAssert",
  "--maximumMemory", String(LIMITS.memoryCapPages),
];

/** At most this many compile errors in the one-line message. */
const ERRORS_SHOWN = 3;

/** asc looks a package import up as node_modules/PKG/FILE.ts in every
 * ancestor directory. `import ... from "fhs/policy"` in a custom policy means
 * the built-in policy's source shipped with this fhs (assembly/), wherever the
 * packager's directory is. */
function sourcePath(name: string, baseDir: string): string {
  const m = /(?:^|\/)node_modules\/fhs\/(.+)$/.exec(name);
  return m ? join(packageRoot, "assembly", m[1]!) : resolve(baseDir, name);
}

/** Line and column (both from 1) of a character offset. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `${line}:${offset - before.lastIndexOf("\n")}`;
}

export async function compilePolicy(entry: string, outFile: string): Promise<void> {
  mkdirSync(dirname(outFile), { recursive: true });
  // Every source asc read, by the name it reports diagnostics under, so an
  // error can say file:line:column (asc reports character offsets).
  const texts = new Map<string, { file: string; text: string }>();
  const errors: string[] = [];
  const { error } = await asc.main([entry, "-o", outFile, ...POLICY_ASC_FLAGS], {
    readFile: (name: string, baseDir: string) => {
      const file = sourcePath(name, baseDir);
      try {
        const text = readFileSync(file, "utf8");
        texts.set(name, { file, text });
        return text;
      } catch {
        return null;
      }
    },
    reportDiagnostic: (d) => {
      if (d.category !== 3) return; // errors only: warnings do not fail a build
      const r = d.range;
      const src = r && (texts.get(r.source.normalizedPath) ?? [...texts.entries()].find(([n]) => n.endsWith(r.source.normalizedPath))?.[1]);
      const where = r ? `${src ? relative(process.cwd(), src.file) : r.source.normalizedPath}${src ? `:${position(src.text, r.start)}` : ""}: ` : "";
      errors.push(`${where}${d.message} (TS${d.code})`);
    },
    stderr: { write: () => true } as never,
    stdout: { write: () => true } as never,
  });
  if (error) {
    const more = errors.length > ERRORS_SHOWN ? `; and ${errors.length - ERRORS_SHOWN} more` : "";
    throw new FhsError(`policy ${entry}: compilation failed: ${errors.slice(0, ERRORS_SHOWN).join("; ") || error.message}${more}`);
  }
  writeFileSync(outFile, mergeDataSegments(readFileSync(outFile)));
}
