// The record codec, TypeScript side. Same format as assembly/records.ts and
// launcher/records.c: fields are non-empty and NUL-terminated; one extra NUL
// ends a record.
import { FhsError } from "../errors.js";

export type Rec = string[];

export function encodeRecords(records: readonly Rec[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const rec of records) {
    if (rec.length === 0) throw new FhsError("internal: a record needs at least one field");
    for (const field of rec) {
      if (field.length === 0) throw new FhsError(`record '${rec[0]}': a field is empty`);
      if (field.includes("\0")) throw new FhsError(`record '${rec[0]}': a field contains NUL: ${JSON.stringify(field)}`);
      parts.push(Buffer.from(field, "utf8"), Buffer.of(0));
    }
    parts.push(Buffer.of(0));
  }
  return Buffer.concat(parts);
}

export function decodeRecords(bytes: Uint8Array): Rec[] {
  const out: Rec[] = [];
  let fields: string[] = [];
  let start = 0;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (i === start) {
      if (fields.length === 0) throw new FhsError(`malformed records: empty record at byte ${i}`);
      out.push(fields);
      fields = [];
    } else {
      fields.push(text.toString("utf8", start, i));
    }
    start = i + 1;
  }
  if (start !== bytes.length || fields.length !== 0) {
    throw new FhsError(`malformed records: trailing bytes after byte ${start}`);
  }
  return out;
}

/** One record per line, fields separated by spaces: how `fhs plan` shows a plan. */
export function formatRecords(records: readonly Rec[]): string {
  return records.map((r) => r.map((f) => (/[\s"\\]/.test(f) || f === "" ? JSON.stringify(f) : f)).join(" ")).join("\n");
}
