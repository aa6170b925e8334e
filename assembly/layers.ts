// Layer lists, written for wasm3's speed: wasm3 interprets, so a call or a
// character-by-character string comparison in an inner loop is a real cost at
// every launch. A layer carries a hash of its path; lists are compared by
// hash first and by path only on a match. Nothing here decides anything: the
// decisions (launch.ts, build.ts) use these to stay fast with 300 layers.

export class Layer {
  /** Compared before the path: in wasm3, comparing long store paths character
   * by character made de-duplicating 300 layers cost tens of milliseconds. */
  hash: u32;

  constructor(public path: string, public layout: string, public dirs: string) {
    this.hash = fnv1a(path, 2166136261);
  }

  /** The directory this layer contributes to the view's /DIR, or "" if none. */
  source(dir: string): string {
    if (this.layout == "nix") return dir == "usr" ? this.path : "";
    return hasItem(this.dirs, dir) ? this.path + "/" + dir : "";
  }
}

/** Every layer's contribution to the view's /DIR, in layer order. */
export function sources(layers: Layer[], dir: string): string[] {
  const out = new Array<string>();
  for (let i = 0; i < layers.length; i++) {
    const s = unchecked(layers[i]).source(dir);
    if (s != "") out.push(s);
  }
  return out;
}

export function hasItem(commaList: string, item: string): bool {
  // "usr,etc,opt": no split, no allocation.
  let at = commaList.indexOf(item);
  while (at >= 0) {
    const end = at + item.length;
    if ((at == 0 || commaList.charCodeAt(at - 1) == 44) && (end == commaList.length || commaList.charCodeAt(end) == 44)) return true;
    at = commaList.indexOf(item, at + 1);
  }
  return false;
}

/** FNV-1a over a string's UTF-16 code units, read straight from memory: a
 * charCodeAt call per character is a real call in wasm3. */
function fnv1a(s: string, seed: u32): u32 {
  let h = seed;
  const p = changetype<usize>(s);
  const end = p + (<usize>s.length << 1);
  for (let q = p; q < end; q += 2) {
    h ^= <u32>load<u16>(q);
    h *= 16777619;
  }
  return h;
}

function fnv64(h: u64, s: string): u64 {
  const p = changetype<usize>(s);
  const end = p + (<usize>s.length << 1);
  for (let q = p; q < end; q += 2) {
    h ^= <u64>load<u16>(q);
    h *= 0x100000001b3;
  }
  // Each part ends in "\n", as if hashing "path\nlayout\ndirs\n".
  h ^= 10;
  return h * 0x100000001b3;
}

/** FNV-1a over the layer list: the view's id, written to the marker and to
 * IN_NIX_FHS so a nested launch can tell a real view from a stray variable. */
export function viewId(layers: Layer[]): string {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < layers.length; i++) {
    const l = unchecked(layers[i]);
    h = fnv64(fnv64(fnv64(h, l.path), l.layout), l.dirs);
  }
  let hex = "";
  for (let k = 60; k >= 0; k -= 4) hex += "0123456789abcdef".charAt(<i32>((h >> <u64>k) & 15));
  return hex;
}

export function hashesOf(layers: Layer[]): Uint32Array {
  const h = new Uint32Array(layers.length);
  for (let i = 0; i < layers.length; i++) unchecked((h[i] = unchecked(layers[i]).hash));
  return h;
}

/** Index of `l` among the first n of `list` (whose hashes are given), or -1.
 * The inner loop compares integers only; paths only on a hash match. */
export function find(list: Layer[], hashes: Uint32Array, n: i32, l: Layer): i32 {
  const h = l.hash;
  for (let j = 0; j < n; j++) if (unchecked(hashes[j]) == h && unchecked(list[j]).path == l.path) return j;
  return -1;
}

/** The list without repeats, first occurrence kept. */
export function dedupe(layers: Layer[]): Layer[] {
  const outList = new Array<Layer>();
  const hashes = new Uint32Array(layers.length);
  for (let i = 0; i < layers.length; i++) {
    const l = unchecked(layers[i]);
    if (find(outList, hashes, outList.length, l) >= 0) continue;
    unchecked((hashes[outList.length] = l.hash));
    outList.push(l);
  }
  return outList;
}

/** True when every layer of `some` is in `all`. */
export function includesAll(all: Layer[], some: Layer[]): bool {
  const hashes = hashesOf(all);
  for (let i = 0; i < some.length; i++) {
    if (find(all, hashes, all.length, unchecked(some[i])) < 0) return false;
  }
  return true;
}

/** a == b, with the call (String.__eq, then a character loop: each a call
 * in wasm3) made only when the lengths and the first characters match.
 * Most names a launch compares are three letters long (usr, bin, lib, var,
 * dev, tmp, ...): the length alone leaves most of them to the call. */
// @ts-ignore: decorator
@inline export function sameString(a: string, b: string): bool {
  const len = a.length;
  return len == b.length && (len == 0 || load<u16>(changetype<usize>(a)) == load<u16>(changetype<usize>(b))) && a == b;
}

/** Whether `s` is in `list`. A cold launch asks this ~120 times of short
 * lists (the config's never-bind names for each host entry, the /etc files),
 * and in wasm3 each element read and each string comparison is a call of
 * its own (Array#__get, String.__eq: over 2000 calls a launch): elements
 * are read from memory and compared by sameString. */
export function contains(list: string[], s: string): bool {
  const n = list.length;
  const data = list.dataStart;
  for (let i = 0; i < n; i++) {
    if (sameString(load<string>(data + (<usize>i << alignof<string>())), s)) return true;
  }
  return false;
}
