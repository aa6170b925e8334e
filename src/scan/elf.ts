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
  /** Version nodes needed, per needed file (vn_file, which is the provider's SONAME).
   * Weak needs (VER_FLG_WEAK) are left out: ld.so's version check does not fail on them. */
  needs: { file: string; versions: string[]; weak?: string[] }[];
  /** The object has a DT_VERDEF table: ld.so checks version needs against it.
   * Without one, ld.so accepts every need (printing "no version information
   * available" at startup) and then fails on every versioned reference bound to it. */
  versioned: boolean;
}

/** What ld.so binds: an object's defined dynamic symbols and its undefined
 * references, with versions and when each reference is bound. */
export interface ElfSymbols {
  /** Defined symbols, `name` for unversioned ones, `name@VERSION` for versioned ones. */
  defined: Set<string>;
  /** Names of all defined symbols, whatever their version. */
  names: Set<string>;
  refs: SymbolRef[];
}

export interface SymbolRef {
  name: string;
  /** The version node the reference asks for, and the SONAME it names (vn_file). */
  version?: string;
  file?: string;
  /** STB_WEAK: an unresolved weak reference binds to 0 without an error. */
  weak: boolean;
  /** Bound when the object is loaded (a non-PLT relocation: data, an address
   * taken; or the object asks for BIND_NOW); otherwise lazily, at the first call. */
  load: boolean;
}

export interface BadElf {
  bad: string;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_PLTRELSZ = 2;
const DT_HASH = 4;
const DT_STRTAB = 5;
const DT_SYMTAB = 6;
const DT_RELA = 7;
const DT_RELASZ = 8;
const DT_RELAENT = 9;
const DT_STRSZ = 10;
const DT_SYMENT = 11;
const DT_SONAME = 14;
const DT_REL = 17;
const DT_RELSZ = 18;
const DT_RELENT = 19;
const DT_BIND_NOW = 24;
const DT_JMPREL = 23;
const DT_FLAGS = 30;
const DF_BIND_NOW = 8;
const DT_GNU_HASH = 0x6ffffef5;
const DT_VERSYM = 0x6ffffff0;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_NOW = 1;
const SHT_DYNSYM = 11;
const VER_FLG_WEAK = 2;
const MAX_SYMS = 1 << 20;
/** R_*_COPY by e_machine: i386, x86-64, ARM, AArch64, RISC-V, PowerPC64, s390. */
const COPY_RELOC: Record<number, number> = { 3: 5, 62: 5, 40: 20, 183: 1024, 243: 4, 21: 19, 22: 9 };
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
    return parse(readAt, size, false)?.info ?? null;
  } catch (e) {
    if (e instanceof Bad) return { bad: e.message };
    // A RangeError from Buffer reads is a structure pointing past what we read.
    return { bad: `malformed (${(e as Error).message})` };
  }
}

/** The dynamic symbols of an ELF file (see ElfSymbols); null without a
 * dynamic section. Read only for the objects a conflict concerns. */
export function parseElfSymbols(readAt: ReadAt, size: number): { info: ElfInfo; syms: ElfSymbols } | BadElf | null {
  try {
    return parse(readAt, size, true);
  } catch (e) {
    if (e instanceof Bad) return { bad: e.message };
    return { bad: `malformed (${(e as Error).message})` };
  }
}

function parse(readAt: ReadAt, size: number, wantSyms: boolean): { info: ElfInfo; syms: ElfSymbols } | null {
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
  // Only read when the symbols are wanted.
  const tags = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    const tag = is64 ? u64s(db, o, le) : u32(db, o);
    if (tag === DT_NULL) break;
    const val = word(db, o + (is64 ? 8 : 4));
    switch (tag) {
      case DT_NEEDED: neededOffs.push(val); break;
      case DT_SONAME: sonameOff = val; break;
      case DT_STRTAB: strtab = val; break;
      case DT_STRSZ: strsz = val; break;
      case DT_VERDEF: verdef = val; break;
      case DT_VERDEFNUM: verdefnum = val; break;
      case DT_VERNEED: verneed = val; break;
      case DT_VERNEEDNUM: verneednum = val; break;
      default: if (wantSyms) tags.set(tag, val);
    }
  }

  // Dynamic-section values are virtual addresses; the PT_LOAD segments map them to file offsets.
  const fileOffset = (vaddr: number, what: string): number => {
    for (const l of loads) if (vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz) return l.off + (vaddr - l.vaddr);
    throw new Bad(`${what} at address 0x${vaddr.toString(16)} is in no loaded segment`);
  };

  const info: ElfInfo = { needed: [], defs: [], needs: [], versioned: verdef !== undefined && verdef !== 0 };
  const syms: ElfSymbols = { defined: new Set(), names: new Set(), refs: [] };
  if (neededOffs.length === 0 && sonameOff === undefined && !verdef && !verneed && !wantSyms) return { info, syms };
  if (strtab === undefined || strsz === undefined) {
    if (neededOffs.length === 0 && sonameOff === undefined && !verdef && !verneed) return { info, syms };
    throw new Bad("dynamic section has no string table");
  }
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

  /** Version index (vd_ndx, vna_other) -> what it names; for the symbol versions. */
  const byIndex = new Map<number, { name: string; file?: string }>();
  if (verdef) {
    if (verdefnum > MAX_VERSIONS) throw new Bad(`implausible version definition count ${verdefnum}`);
    let at = fileOffset(verdef, "version definitions");
    for (let i = 0; i < verdefnum; i++) {
      const vd = read(at, 20, "version definition");
      const flags = u16(vd, 2);
      const ndx = u16(vd, 4);
      const cnt = u16(vd, 6);
      const aux = u32(vd, 12);
      const next = u32(vd, 16);
      // The first aux names the version; further ones name its parents.
      if (cnt > 0) {
        const a = read(at + aux, 8, "version definition name");
        const name = str(u32(a, 0), "version definition");
        if (!(flags & VER_FLG_BASE)) info.defs.push(name);
        byIndex.set(ndx, { name });
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
      const weak: string[] = [];
      let a = at + aux;
      for (let j = 0; j < cnt; j++) {
        if (++total > MAX_VERSIONS) throw new Bad("too many version needs");
        const vna = read(a, 16, "version need entry");
        const name = str(u32(vna, 8), "version need name");
        (u16(vna, 4) & VER_FLG_WEAK ? weak : versions).push(name);
        byIndex.set(u16(vna, 6) & 0x7fff, { name, file });
        const anext = u32(vna, 12);
        if (anext === 0) break;
        a += anext;
      }
      info.needs.push(weak.length > 0 ? { file, versions, weak } : { file, versions });
      if (next === 0) break;
      at += next;
    }
  }
  if (!wantSyms) return { info, syms };

  const symtab = tags.get(DT_SYMTAB);
  if (!symtab) return { info, syms };
  const syment = tags.get(DT_SYMENT) ?? (is64 ? 24 : 16);
  if (syment < (is64 ? 24 : 16)) throw new Bad(`symbol entries too small (${syment} bytes)`);
  const nsyms = symbolCount(read, u16, u32, word, is64, eh, tags, fileOffset, syment);
  if (nsyms > MAX_SYMS) throw new Bad(`implausible symbol count ${nsyms}`);
  const st = read(fileOffset(symtab, "symbol table"), nsyms * syment, "dynamic symbol table");
  const versym = tags.get(DT_VERSYM);
  const vs = versym ? read(fileOffset(versym, "symbol versions"), nsyms * 2, "symbol versions") : undefined;

  // Which undefined symbols a relocation binds, and whether at load time.
  const bindNow = tags.has(DT_BIND_NOW) || ((tags.get(DT_FLAGS) ?? 0) & DF_BIND_NOW) !== 0 || ((tags.get(DT_FLAGS_1) ?? 0) & DF_1_NOW) !== 0;
  const bound = new Map<number, boolean>();
  // A copy relocation makes an executable's own copy of a library's data
  // object: the symbol looks defined, but ld.so looks it up at load.
  const copyType = COPY_RELOC[u16(eh, 18)];
  const copied = new Set<number>();
  const relocs = (addr: number | undefined, sz: number | undefined, ent: number, rela: boolean, load: boolean, skip?: { start: number; end: number }) => {
    if (!addr || !sz) return;
    if (ent < (is64 ? (rela ? 24 : 16) : rela ? 12 : 8)) throw new Bad(`relocation entries too small (${ent} bytes)`);
    const n = Math.floor(sz / ent);
    if (n > MAX_SYMS * 4) throw new Bad(`implausible relocation count ${n}`);
    const b = read(fileOffset(addr, "relocations"), n * ent, "relocations");
    for (let i = 0; i < n; i++) {
      // ld.so skips the PLT relocations when DT_RELA's range holds them too.
      if (skip && addr + i * ent >= skip.start && addr + i * ent < skip.end) continue;
      const rinfo = is64 ? u64(b, i * ent + 8) : u32(b, i * ent + 4);
      const sym = is64 ? Math.floor(rinfo / 2 ** 32) : rinfo >>> 8;
      if (sym === 0) continue;
      if (copyType !== undefined && (is64 ? rinfo % 2 ** 32 : rinfo & 0xff) === copyType) copied.add(sym);
      bound.set(sym, (bound.get(sym) ?? false) || load);
    }
  };
  const jmprel = tags.get(DT_JMPREL);
  const pltsz = tags.get(DT_PLTRELSZ);
  const pltRela = tags.get(20 /* DT_PLTREL */) !== DT_REL;
  const skip = jmprel && pltsz ? { start: jmprel, end: jmprel + pltsz } : undefined;
  relocs(tags.get(DT_RELA), tags.get(DT_RELASZ), tags.get(DT_RELAENT) ?? (is64 ? 24 : 12), true, true, skip);
  relocs(tags.get(DT_REL), tags.get(DT_RELSZ), tags.get(DT_RELENT) ?? (is64 ? 16 : 8), false, true, skip);
  relocs(jmprel, pltsz, pltRela ? (is64 ? 24 : 12) : is64 ? 16 : 8, pltRela, bindNow);

  for (let i = 1; i < nsyms; i++) {
    const o = i * syment;
    const name = str(u32(st, o), "symbol name");
    const infoByte = is64 ? st[o + 4]! : st[o + 12]!;
    const shndx = is64 ? u16(st, o + 6) : u16(st, o + 14);
    const bind = infoByte >> 4;
    if (bind === 0 /* STB_LOCAL */ || name === "") continue;
    const ndx = vs ? u16(vs, i * 2) & 0x7fff : 1;
    const ver = ndx >= 2 ? byIndex.get(ndx) : undefined;
    if (shndx !== 0 && !copied.has(i)) {
      syms.names.add(name);
      syms.defined.add(ver ? `${name}@${ver.name}` : name);
    } else if (bound.has(i)) {
      const ref: SymbolRef = { name, weak: bind === 2 /* STB_WEAK */, load: bound.get(i)! };
      if (ver?.file !== undefined) {
        ref.version = ver.name;
        ref.file = ver.file;
      }
      syms.refs.push(ref);
    }
  }
  return { info, syms };
}

/** The number of dynamic symbols: from the section headers when present, else
 * from DT_HASH's chain count, else by walking DT_GNU_HASH to its last chain. */
function symbolCount(
  read: (off: number, len: number, what: string) => Buffer,
  u16: (b: Buffer, o: number) => number,
  u32: (b: Buffer, o: number) => number,
  word: (b: Buffer, o: number) => number,
  is64: boolean,
  eh: Buffer,
  tags: Map<number, number>,
  fileOffset: (vaddr: number, what: string) => number,
  syment: number,
): number {
  const shoff = word(eh, is64 ? 40 : 32);
  const shentsize = u16(eh, is64 ? 58 : 46);
  const shnum = u16(eh, is64 ? 60 : 48);
  if (shoff && shnum && shnum < MAX_PHNUM * 16 && shentsize >= (is64 ? 64 : 40)) {
    try {
      const sh = read(shoff, shnum * shentsize, "section headers");
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        if (u32(sh, o + 4) !== SHT_DYNSYM) continue;
        const size = word(sh, o + (is64 ? 32 : 20));
        return Math.floor(size / syment);
      }
    } catch (e) {
      // Stripped or damaged section headers: the loader does not use them either.
      if (!(e instanceof Bad)) throw e;
    }
  }
  const hash = tags.get(DT_HASH);
  if (hash) return u32(read(fileOffset(hash, "hash table"), 8, "hash table"), 4);
  const gnu = tags.get(DT_GNU_HASH);
  if (!gnu) return 0;
  const at = fileOffset(gnu, "GNU hash table");
  const h = read(at, 16, "GNU hash table");
  const nbuckets = u32(h, 0);
  const symoffset = u32(h, 4);
  const bloomSize = u32(h, 8);
  if (nbuckets > MAX_SYMS || bloomSize > MAX_SYMS) throw new Bad("implausible GNU hash table");
  const bucketsAt = at + 16 + bloomSize * (is64 ? 8 : 4);
  const buckets = read(bucketsAt, nbuckets * 4, "GNU hash buckets");
  let last = 0;
  for (let i = 0; i < nbuckets; i++) last = Math.max(last, u32(buckets, i * 4));
  if (last < symoffset) return symoffset;
  const chainAt = bucketsAt + nbuckets * 4;
  for (let i = last; i - symoffset < MAX_SYMS; i++) {
    if (u32(read(chainAt + (i - symoffset) * 4, 4, "GNU hash chain"), 0) & 1) return i + 1;
  }
  throw new Bad("GNU hash chain does not end");
}

/** d_tag is signed; the tags we need are all positive and fit in 32 bits, so a
 * tag with high bits set just matches nothing. */
function u64s(b: Buffer, o: number, le: boolean): number {
  const v = le ? b.readBigInt64LE(o) : b.readBigInt64BE(o);
  return v >= 0n && v <= 0xffffffffn ? Number(v) : -1;
}
