// Reading one file for the index: its sha256 (streamed) and, for ELF files,
// what parseElf extracts. Runs on the main thread or in scan workers alike.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isElf, parseElf, parseElfSymbols, type BadElf, type ElfInfo, type ElfSymbols } from "./elf.js";

export const WANT_HASH = 1;
export const WANT_ELF = 2;

/** [absolute path, WANT_* flags] */
export type FileTask = [string, number];

export interface FileResult {
  size?: number;
  hash?: string;
  elf?: ElfInfo | BadElf | null;
  /** Set when the file could not be read at all. */
  error?: string;
}

const CHUNK = 1 << 20;

/** Reads LEN bytes at OFF of an open file, fewer only at its end (the ELF
 * readers' view of a file). */
function fdReader(fd: number): (off: number, len: number) => Buffer {
  return (off, len) => {
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const r = readSync(fd, b, got, len - got, off + got);
      if (r === 0) break;
      got += r;
    }
    return b.subarray(0, got);
  };
}
let chunk: Buffer | undefined;

export function scanFile(path: string, flags: number): FileResult {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  try {
    const res: FileResult = {};
    chunk ??= Buffer.allocUnsafe(CHUNK);
    let size = -1;
    if (flags & WANT_HASH) {
      const h = createHash("sha256");
      let pos = 0;
      for (;;) {
        const n = readSync(fd, chunk, 0, CHUNK, pos);
        if (n === 0) break;
        h.update(chunk.subarray(0, n));
        pos += n;
      }
      size = pos;
      res.size = size;
      res.hash = h.digest("hex");
    }
    if (flags & WANT_ELF) {
      const n = readSync(fd, chunk, 0, 4, 0);
      if (isElf(chunk.subarray(0, n))) {
        if (size < 0) size = fstatSync(fd).size;
        res.elf = parseElf(fdReader(fd), size);
      }
    }
    return res;
  } catch (e) {
    return { error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  } finally {
    closeSync(fd);
  }
}

export function scanFiles(tasks: readonly FileTask[], progress?: (done: number) => void): FileResult[] {
  const out: FileResult[] = new Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    out[i] = scanFile(tasks[i]![0], tasks[i]![1]);
    if (progress && (i & 511) === 511) progress(i + 1);
  }
  return out;
}

/** The dynamic symbols of one ELF file (src/scan/elf.ts), read on demand for
 * the objects a library conflict concerns; a file that cannot be read or
 * parsed yields its cause. */
export function readElfSymbols(abs: string): ElfSymbols | { bad: string } {
  let fd: number;
  try {
    fd = openSync(abs, "r");
  } catch (e) {
    return { bad: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
  try {
    const size = fstatSync(fd).size;
    const r = parseElfSymbols(fdReader(fd), size);
    if (r === null) return { bad: "no dynamic section" };
    return "bad" in r ? r : r.syms;
  } finally {
    closeSync(fd);
  }
}
