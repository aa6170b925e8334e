// The launcher's plan cache entries (launcher/cache.c): named plan-<16 hex>,
// each the magic "fhsplan1", the key's length (8 bytes, little-endian on the
// machines fhs runs on), the key (module sha256, module identity, NUL, the
// policy's input), then the plan's records. Tests read and tamper with them.
import { readFileSync, writeFileSync } from "node:fs";
import { decodeRecords, encodeRecords } from "../../src/policy/records.js";

export const PLAN_ENTRY = /^plan-[0-9a-f]{16}$/;

/** An entry's parts: its head (magic, length, key) and its plan's records. */
export function readPlanEntry(path: string): { head: Buffer; key: Buffer; plan: string[][] } {
  const bytes = readFileSync(path);
  if (bytes.subarray(0, 8).toString("latin1") !== "fhsplan1") throw new Error(`${path}: not a plan cache entry`);
  const end = 16 + Number(bytes.readBigUInt64LE(8));
  return { head: bytes.subarray(0, end), key: bytes.subarray(16, end), plan: decodeRecords(bytes.subarray(end)) };
}

/** Replaces an entry's plan, keeping its key: the launcher takes it as this key's. */
export function rewritePlanEntry(path: string, ops: string[][]): void {
  writeFileSync(path, Buffer.concat([readPlanEntry(path).head, encodeRecords(ops)]));
}
