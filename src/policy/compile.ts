// Compiles a policy written in AssemblyScript with the project's fixed flags.
// The default policy (assembly/index.ts) and packagers' custom ones go through
// this one function, so they are held to the same runtime and limits.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import asc from "assemblyscript/asc";
import { FhsError } from "../errors.js";
import { packageRoot } from "../paths.js";
import { LIMITS } from "../abi.js";
import { mergeDataSegments } from "./merge-data.js";

/** Fixed flags: the stub runtime (no GC: a policy runs once and exits), optimized
 * for size because wasm3 recompiles the module at every launch, and no feature
 * beyond what both hosts share. */
export const POLICY_ASC_FLAGS: readonly string[] = [
  "--runtime", "stub",
  "-Oz",
  "--noAssert",
  "--maximumMemory", String(LIMITS.memoryCapPages),
];

/** asc looks a package import up as node_modules/PKG/FILE.ts in every
 * ancestor directory. `import ... from "fhs/policy"` in a custom policy means
 * the built-in policy's source shipped with this fhs (assembly/), wherever the
 * packager's directory is. */
function readSource(name: string, baseDir: string): string | null {
  const m = /(?:^|\/)node_modules\/fhs\/(.+)$/.exec(name);
  const file = m ? join(packageRoot, "assembly", m[1]!) : resolve(baseDir, name);
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

export async function compilePolicy(entry: string, outFile: string): Promise<void> {
  mkdirSync(dirname(outFile), { recursive: true });
  let stderr = "";
  const { error } = await asc.main([entry, "-o", outFile, ...POLICY_ASC_FLAGS], {
    readFile: readSource,
    stderr: { write: (s: string | Uint8Array) => { stderr += String(s); return true; } } as never,
    stdout: { write: () => true } as never,
  });
  if (error) {
    const detail = stderr.trim().split("\n").filter((l) => /ERROR|error/.test(l)).slice(0, 3).join("; ");
    throw new FhsError(`policy ${entry}: compilation failed: ${detail || error.message}`);
  }
  writeFileSync(outFile, mergeDataSegments(readFileSync(outFile)));
}
