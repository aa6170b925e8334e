// A small ELF reader for what conflict checks need: the SONAME, the DT_NEEDED
// libraries and the symbol versions an object defines (.gnu.version_d) and needs
// (.gnu.version_r). It reads like the dynamic loader does, through the program
// headers and the dynamic section, so objects whose section headers were
// stripped still parse. It reads only those structures, never the whole file.
//
// Every offset, size and count comes from the file and is checked before use:
// a truncated or garbage ELF yields BadElf with the cause, never an exception.

/** Reads `len` bytes at `offset`; returns fewer at end of file. */
export type ReadAt = (offset: number, len: number) => Buffer;

export interface ElfInfo {
  soname?: string;
  needed: string[];
  /** Version nodes this object defines (the base node, which names the object itself, excluded). */
  defs: string[];
  /** Version nodes needed, per needed file (vn_file, which is the provider's SONAME). */
  needs: { file: string; versions: string[] }[];
}

export interface BadElf {
  bad: string;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_VERDEF = 0x6ffffffc;
const DT_VERDEFNUM = 0x6ffffffd;
const DT_VERNEED = 0x6ffffffe;
const DT_VERNEEDNUM = 0x6fffffff;
const VER_FLG_BASE = 1;

/** Sanity caps: a real object stays far below these; garbage must not make us allocate or loop. */
const MAX_PHNUM = 4096;
const MAX_DYN = 1 << 16;
const MAX_STRTAB = 64 << 20;
const MAX_VERSIONS = 1 << 16;

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

class Bad extends Error {}

/** True when the first bytes are the ELF magic. */
export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);
}

/** Parses an ELF file of `size` bytes. Returns null for objects without a
 * dynamic section (relocatables, static executables): they neither provide
 * nor consume shared libraries. */
export function parseElf(readAt: ReadAt, size: number): ElfInfo | BadElf | null {
  try {
    return parse(readAt, size);
  } catch (e) {
    if (e instanceof Bad) return { bad: e.message };
    // A RangeError from Buffer reads is a structure pointing past what we read.
    return { bad: `malformed (${(e as Error).message})` };
  }
}

function parse(readAt: ReadAt, size: number): ElfInfo | null {
  const read = (off: number, len: number, what: string): Buffer => {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > size) {
      throw new Bad(`truncated: ${what} lies outside the file`);
    }
    const b = readAt(off, len);
    if (b.length < len) throw new Bad(`truncated: ${what} lies outside the file`);
    return b;
  };
  const ident = read(0, 16, "ELF identification");
  if (!isElf(ident)) throw new Bad("not an ELF file");
  const cls = ident[4];
  const data = ident[5];
  if (cls !== 1 && cls !== 2) throw new Bad(`unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw new Bad(`unknown ELF data encoding ${data}`);
  const is64 = cls === 2;
  const le = data === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => {
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    // Offsets past 2^53 cannot be in a real file; report instead of losing precision.
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Bad("an offset or address is out of range");
    return Number(v);
  };
  const word = (b: Buffer, o: number) => (is64 ? u64(b, o) : u32(b, o));

  const eh = read(0, is64 ? 64 : 52, "ELF header");
  const phoff = word(eh, is64 ? 32 : 28);
  const phentsize = u16(eh, is64 ? 54 : 42);
  const phnum = u16(eh, is64 ? 56 : 44);
  if (phnum === 0) return null;
  if (phnum > MAX_PHNUM) throw new Bad(`implausible program header count ${phnum}`);
  if (phentsize < (is64 ? 56 : 32)) throw new Bad(`program header entries too small (${phentsize} bytes)`);
  const ph = read(phoff, phnum * phentsize, "program header table");

  const loads: { vaddr: number; off: number; filesz: number }[] = [];
  let dyn: { off: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const type = u32(ph, o);
    if (type !== PT_LOAD && type !== PT_DYNAMIC) continue;
    const off = is64 ? u64(ph, o + 8) : u32(ph, o + 4);
    const vaddr = is64 ? u64(ph, o + 16) : u32(ph, o + 8);
    const filesz = is64 ? u64(ph, o + 32) : u32(ph, o + 16);
    if (type === PT_LOAD) loads.push({ vaddr, off, filesz });
    else dyn = { off, size: filesz };
  }
  if (!dyn) return null;

  const entsize = is64 ? 16 : 8;
  const count = Math.min(Math.floor(dyn.size / entsize), MAX_DYN);
  const db = read(dyn.off, count * entsize, "dynamic section");
  const neededOffs: number[] = [];
  let sonameOff: number | undefined;
  let strtab: number | undefined;
  let strsz: number | undefined;
  let verdef: number | undefined;
  let verdefnum = 0;
  let verneed: number | undefined;
  let verneednum = 0;
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    const tag = is64 ? u64s(db, o, le) : u32(db, o);
    const val = word(db, o + (is64 ? 8 : 4));
    if (tag === DT_NULL) break;
    switch (tag) {
      case DT_NEEDED: neededOffs.push(val); break;
      case DT_SONAME: sonameOff = val; break;
      case DT_STRTAB: strtab = val; break;
      case DT_STRSZ: strsz = val; break;
      case DT_VERDEF: verdef = val; break;
      case DT_VERDEFNUM: verdefnum = val; break;
      case DT_VERNEED: verneed = val; break;
      case DT_VERNEEDNUM: verneednum = val; break;
    }
  }

  // Dynamic-section values are virtual addresses; the PT_LOAD segments map them to file offsets.
  const fileOffset = (vaddr: number, what: string): number => {
    for (const l of loads) if (vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz) return l.off + (vaddr - l.vaddr);
    throw new Bad(`${what} at address 0x${vaddr.toString(16)} is in no loaded segment`);
  };

  const info: ElfInfo = { needed: [], defs: [], needs: [] };
  if (neededOffs.length === 0 && sonameOff === undefined && !verdef && !verneed) return info;
  if (strtab === undefined || strsz === undefined) throw new Bad("dynamic section has no string table");
  if (strsz > MAX_STRTAB) throw new Bad(`implausible string table size ${strsz}`);
  const strs = read(fileOffset(strtab, "string table"), strsz, "dynamic string table");
  const str = (off: number, what: string): string => {
    if (off >= strs.length) throw new Bad(`${what}: string offset ${off} past the string table`);
    const end = strs.indexOf(0, off);
    if (end < 0) throw new Bad(`${what}: unterminated string`);
    return strs.toString("latin1", off, end);
  };

  if (sonameOff !== undefined) info.soname = str(sonameOff, "DT_SONAME");
  for (const o of neededOffs) info.needed.push(str(o, "DT_NEEDED"));

  if (verdef) {
    if (verdefnum > MAX_VERSIONS) throw new Bad(`implausible version definition count ${verdefnum}`);
    let at = fileOffset(verdef, "version definitions");
    for (let i = 0; i < verdefnum; i++) {
      const vd = read(at, 20, "version definition");
      const flags = u16(vd, 2);
      const cnt = u16(vd, 6);
      const aux = u32(vd, 12);
      const next = u32(vd, 16);
      // The first aux names the version; further ones name its parents.
      if (cnt > 0 && !(flags & VER_FLG_BASE)) {
        const a = read(at + aux, 8, "version definition name");
        info.defs.push(str(u32(a, 0), "version definition"));
      }
      if (next === 0) break;
      at += next;
    }
  }

  if (verneed) {
    if (verneednum > MAX_VERSIONS) throw new Bad(`implausible version need count ${verneednum}`);
    let at = fileOffset(verneed, "version needs");
    let total = 0;
    for (let i = 0; i < verneednum; i++) {
      const vn = read(at, 16, "version need");
      const cnt = u16(vn, 2);
      const file = str(u32(vn, 4), "version need file");
      const aux = u32(vn, 8);
      const next = u32(vn, 12);
      const versions: string[] = [];
      let a = at + aux;
      for (let j = 0; j < cnt; j++) {
        if (++total > MAX_VERSIONS) throw new Bad("too many version needs");
        const vna = read(a, 16, "version need entry");
        versions.push(str(u32(vna, 8), "version need name"));
        const anext = u32(vna, 12);
        if (anext === 0) break;
        a += anext;
      }
      info.needs.push({ file, versions });
      if (next === 0) break;
      at += next;
    }
  }
  return info;
}

/** d_tag is signed; the tags we need are all positive and fit in 32 bits, so a
 * tag with high bits set just matches nothing. */
function u64s(b: Buffer, o: number, le: boolean): number {
  const v = le ? b.readBigInt64LE(o) : b.readBigInt64BE(o);
  return v >= 0n && v <= 0xffffffffn ? Number(v) : -1;
}
