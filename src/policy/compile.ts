// Compiles a policy written in AssemblyScript with the project's fixed flags.
// The default policy (assembly/index.ts) and packagers' custom ones go through
// this one function, so they are held to the same runtime and limits.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import asc from "assemblyscript/asc";
import { FhsError } from "../errors.js";
import { MEMORY_CAP_PAGES } from "./limits.js";

/** Fixed flags: the stub runtime (no GC: a policy runs once and exits), optimized
 * for size because wasm3 recompiles the module at every launch, and no feature
 * beyond what both hosts share. */
export const POLICY_ASC_FLAGS: readonly string[] = [
  "--runtime", "stub",
  "-Oz",
  "--noAssert",
  "--maximumMemory", String(MEMORY_CAP_PAGES),
];

export async function compilePolicy(entry: string, outFile: string): Promise<void> {
  mkdirSync(dirname(outFile), { recursive: true });
  let stderr = "";
  const { error } = await asc.main([entry, "-o", outFile, ...POLICY_ASC_FLAGS], {
    stderr: { write: (s: string | Uint8Array) => { stderr += String(s); return true; } } as never,
    stdout: { write: () => true } as never,
  });
  if (error) {
    const detail = stderr.trim().split("\n").filter((l) => /ERROR|error/.test(l)).slice(0, 3).join("; ");
    throw new FhsError(`policy ${entry}: compilation failed: ${detail || error.message}`);
  }
}
