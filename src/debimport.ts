// Importing Debian binary packages (.deb) as layers (docs/LAYERS.md).
//
// A .deb is an ar archive: debian-binary, control.tar.*, data.tar.*. The data
// archive is read entry by entry, so that every path can be normalized before
// it touches the disk:
//   - merged /usr: top-level bin, sbin, lib, lib32, lib64, libx32 move into
//     usr/, as on merged-/usr systems; top-level symlinks of those names
//     (lib64 -> usr/lib64) are dropped, the view provides them;
//   - relative symlinks and hard links are re-aimed at the moved paths;
//   - setuid/setgid bits are dropped; device nodes and fifos are skipped;
//   - nothing is written outside the layer (no absolute or `..` names, no
//     entry below one of the package's own symlinks).
// The layer is built under STORE/.tmp-XXXX and renamed into place, then made
// read-only, like a Nix store path. Everything runs as an unprivileged user.
//
// The control archive's members (control, postinst, triggers, conffiles, …)
// are kept in LAYER/.fhs/deb/<package>/, outside every view: fhs runs no
// script at import, but a layer set's install-time state is made from them
// later (src/state.ts, docs/ARCHITECTURE.md "Install-time state").
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, posix, resolve } from "node:path";
import { Readable } from "node:stream";
import { FhsError } from "./errors.js";
import { inspectLayer } from "./layers.js";
import { decompress, decompressionMessage, readAll, symlinkOnTheWay, walkTar, type Compression, type Header } from "./tar.js";
import { removeTree } from "./tree.js";

/** Top-level directories that merged-/usr systems keep under usr/. */
export const MERGED_DIRS = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] as const;

/** What an import produced; also the metadata kept in LAYER/.fhs/deb.json. */
export interface DebLayer {
  /** The .deb as given. */
  input: string;
  package: string;
  version: string;
  architecture: string;
  /** Absolute path of the layer directory. */
  layer: string;
  /** sha256 of the .deb: a second import of the same file is recognized. */
  sha256: string;
  /** False when the layer already existed from the same .deb. */
  created: boolean;
  /** Things left out of the layer, one line each (device nodes, …). */
  notes: string[];
}

interface ArMember {
  name: string;
  data: Buffer;
}

const META_DIR = ".fhs";
const META_FILE = "deb.json";
/** Where the control archive's members are kept: LAYER/.fhs/deb/<package>/. */
export const CONTROL_DIR = "deb";
/** deb.json's format: 2 keeps the control members. A layer of format 1 (no
 * `format` field) gains them when it is imported again (completeLayer). */
export const LAYER_FORMAT = 2;
/** Control members that are programs dpkg runs. */
const SCRIPTS = new Set(["preinst", "postinst", "prerm", "postrm", "config"]);

/** Imports one .deb into STORE/<package>_<version>_<arch>. Idempotent. */
/** `as`: the layer is exactly that directory (which must not exist) instead
 * of STORE_DIR/<package>_<version>_<arch>: a Nix build's $out (docs/NIX.md). */
export async function importDeb(debPath: string, storeDir: string, opts: { as?: string } = {}): Promise<DebLayer> {
  let deb: Buffer;
  try {
    deb = readFileSync(debPath);
  } catch (e) {
    throw new FhsError(`${debPath}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const sha256 = createHash("sha256").update(deb).digest("hex");
  const fail = (cause: string): never => {
    throw new FhsError(`${debPath}: ${cause}`);
  };

  const members = readAr(deb, fail);
  const magic = members[0];
  if (!magic || magic.name !== "debian-binary") fail("not a Debian package (no debian-binary member first)");
  if (!/^2\.\d+\n/.test(magic!.data.toString("latin1"))) fail(`unsupported .deb format version '${magic!.data.toString("latin1").trim()}'`);
  const controlMember = members.find((m) => m.name.startsWith("control.tar"));
  const dataMember = members.find((m) => m.name.startsWith("data.tar"));
  if (!controlMember) fail("not a Debian package (no control.tar member)");
  if (!dataMember) fail("not a Debian package (no data.tar member)");

  const controlFiles = await readControlFiles(await decompressMember(controlMember!, fail), fail);
  const control = parseControl(controlFiles, fail);
  const pkg = control.get("Package") ?? fail("control file has no Package field");
  const version = control.get("Version") ?? fail("control file has no Version field");
  const arch = control.get("Architecture") ?? fail("control file has no Architecture field");
  if (!/^[a-z0-9][a-z0-9+.-]*$/.test(pkg)) fail(`control file has an invalid Package '${pkg}'`);
  if (!/^[A-Za-z0-9.+~:-]+$/.test(version)) fail(`control file has an invalid Version '${version}'`);
  if (!/^[a-z0-9-]+$/.test(arch)) fail(`control file has an invalid Architecture '${arch}'`);

  const store = resolve(storeDir);
  try {
    mkdirSync(store, { recursive: true });
  } catch (e) {
    throw new FhsError(`store ${storeDir}: cannot create (${(e as NodeJS.ErrnoException).code})`);
  }
  const layer = opts.as === undefined ? join(store, layerName(pkg, version, arch)) : resolve(opts.as);
  const result: DebLayer = { input: debPath, package: pkg, version, architecture: arch, layer, sha256, created: false, notes: [] };

  if (existsSync(layer)) {
    if (opts.as !== undefined) fail(`${opts.as} exists; --as names a new directory`);
    return checkExisting(result, controlFiles);
  }

  let tmp: string;
  try {
    tmp = mkdtempSync(join(store, ".tmp-"));
  } catch (e) {
    throw new FhsError(`store ${storeDir}: cannot write (${(e as NodeJS.ErrnoException).code})`);
  }
  try {
    const data = await decompressMember(dataMember!, fail);
    await extractData(data, tmp, result.notes, fail);
    mkdirSync(join(tmp, "usr"), { recursive: true });
    mkdirSync(join(tmp, META_DIR));
    writeControlFiles(join(tmp, META_DIR, CONTROL_DIR), pkg, controlFiles);
    const meta = { format: LAYER_FORMAT, package: pkg, version, architecture: arch, sha256, notes: result.notes };
    writeFileSync(join(tmp, META_DIR, META_FILE), JSON.stringify(meta, null, 2) + "\n");
    makeReadOnly(tmp, false);
    try {
      renameSync(tmp, layer);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another import of the same package won the race: same as a second import.
      if ((code === "ENOTEMPTY" || code === "EEXIST") && existsSync(layer)) {
        removeTree(tmp);
        return checkExisting(result, controlFiles);
      }
      throw new FhsError(`layer ${layer}: cannot move into place (${code})`);
    }
    // A directory is renamed while it is still writable; then it is sealed.
    chmodSync(layer, 0o555);
  } catch (e) {
    removeTree(tmp);
    throw e;
  }
  inspectLayer(layer);
  result.created = true;
  return result;
}

/** <package>_<version>_<arch>, as Debian names .deb files: an epoch's ':' is
 * written %3a, since ':' separates lowerdirs in overlay mount options. */
export function layerName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version.replaceAll(":", "%3a")}_${arch}`;
}

function checkExisting(result: DebLayer, controlFiles: Map<string, Buffer>): DebLayer {
  let meta: { sha256?: string; format?: number };
  try {
    meta = JSON.parse(readFileSync(join(result.layer, META_DIR, META_FILE), "utf8"));
  } catch {
    throw new FhsError(`layer ${result.layer}: exists but was not made by fhs layer import (no ${META_DIR}/${META_FILE})`);
  }
  if (meta.sha256 !== result.sha256) {
    throw new FhsError(`layer ${result.layer}: exists from a different .deb than ${result.input} (sha256 ${meta.sha256} vs ${result.sha256})`);
  }
  if ((meta.format ?? 1) < LAYER_FORMAT) completeLayer(result, controlFiles, meta);
  inspectLayer(result.layer);
  return result;
}

/** True when the layer was imported with its control members (format 2). */
export function layerHasControl(layer: string): boolean {
  try {
    const meta = JSON.parse(readFileSync(join(layer, META_DIR, META_FILE), "utf8")) as { format?: number };
    return (meta.format ?? 1) >= LAYER_FORMAT;
  } catch {
    return false;
  }
}

/** A layer imported by an older fhs (format 1) from the same .deb gains its
 * control members: .fhs/deb/ is staged beside and renamed into .fhs/, then
 * deb.json is replaced the same way. Only .fhs/ changes, which no view shows,
 * so views and wrapped packages using the layer meanwhile see nothing move;
 * two imports racing both end with the same files. */
function completeLayer(result: DebLayer, controlFiles: Map<string, Buffer>, meta: object): void {
  const metaDir = join(result.layer, META_DIR);
  const mode = lstatSync(metaDir).mode & 0o7777;
  try {
    chmodSync(metaDir, 0o755);
    const staged = mkdtempSync(join(metaDir, ".tmp-"));
    try {
      writeControlFiles(staged, result.package, controlFiles);
      if (!existsSync(join(metaDir, CONTROL_DIR))) renameSync(staged, join(metaDir, CONTROL_DIR));
    } finally {
      if (existsSync(staged)) removeTree(staged);
    }
    const tmpMeta = join(metaDir, `.${META_FILE}.tmp-${process.pid}`);
    writeFileSync(tmpMeta, JSON.stringify({ format: LAYER_FORMAT, ...meta }, null, 2) + "\n", { mode: 0o444 });
    renameSync(tmpMeta, join(metaDir, META_FILE));
  } catch (e) {
    throw new FhsError(`layer ${result.layer}: imported by an older fhs without its maintainer scripts; cannot add them (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); remove the layer and import again`);
  } finally {
    chmodSync(metaDir, mode);
  }
}

/** DIR/<package>/<member>, read-only; maintainer scripts executable. */
function writeControlFiles(dir: string, pkg: string, files: Map<string, Buffer>): void {
  const own = join(dir, pkg);
  mkdirSync(own, { recursive: true, mode: 0o755 });
  for (const [name, body] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    writeFileSync(join(own, name), body, { mode: SCRIPTS.has(name) ? 0o555 : 0o444 });
  }
  chmodSync(own, 0o555);
  chmodSync(dir, 0o555);
}

/** Parses a common (System V / GNU) ar archive as dpkg writes it. */
function readAr(buf: Buffer, fail: (cause: string) => never): ArMember[] {
  if (buf.length < 8 || buf.toString("latin1", 0, 8) !== "!<arch>\n") fail("not a Debian package (no ar archive header)");
  const members: ArMember[] = [];
  let off = 8;
  while (off < buf.length) {
    if (off + 60 > buf.length) fail(`truncated (ar member header at byte ${off} is cut short)`);
    const header = buf.toString("latin1", off, off + 60);
    if (header.slice(58, 60) !== "`\n") fail(`corrupt (bad ar member header at byte ${off})`);
    const name = header.slice(0, 16).trim().replace(/\/$/, "");
    const size = Number(header.slice(48, 58).trim());
    if (!Number.isSafeInteger(size) || size < 0) fail(`corrupt (bad size in ar member '${name}')`);
    const start = off + 60;
    if (start + size > buf.length) fail(`truncated (ar member '${name}' needs ${size} bytes, ${buf.length - start} left)`);
    members.push({ name, data: buf.subarray(start, start + size) });
    off = start + size + (size % 2);
  }
  return members;
}

/** A member's tar, decompressed as its name says (data.tar.xz). */
async function decompressMember(m: ArMember, fail: (cause: string) => never): Promise<Buffer> {
  const how: Record<string, Compression> = { "": "none", ".gz": "gzip", ".xz": "xz", ".zst": "zstd" };
  const ext = m.name.slice(m.name.indexOf(".tar") + 4);
  if (!Object.hasOwn(how, ext)) return fail(`unsupported compression of ${m.name}`);
  try {
    return await readAll(decompress(m.data, how[ext]!));
  } catch (e) {
    return fail(`corrupt ${m.name} (${decompressionMessage(e as Error)})`);
  }
}

/** Walks a tar held in memory; a tar that cannot be read is `corrupt WHAT`. */
async function walkArchive(tar: Buffer, what: string, fail: (cause: string) => never, onEntry: (h: Header, body: Buffer) => void | Promise<void>): Promise<void> {
  try {
    await walkTar(Readable.from([tar]), onEntry);
  } catch (e) {
    if (e instanceof FhsError) throw e;
    fail(`corrupt ${what} (${(e as Error).message})`);
  }
}

/** The control archive's regular files, by name (control, postinst, …). */
async function readControlFiles(tar: Buffer, fail: (cause: string) => never): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await walkArchive(tar, "control archive", fail, (h, body) => {
    const name = h.name.replace(/^\.?\//, "");
    if (h.type !== "file" || !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) return;
    files.set(name, body);
  });
  return files;
}

function parseControl(files: Map<string, Buffer>, fail: (cause: string) => never): Map<string, string> {
  const text = files.get("control")?.toString("utf8");
  if (text === undefined) fail("not a Debian package (control archive has no control file)");
  const fields = new Map<string, string>();
  for (const line of text!.split("\n")) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!.trim());
  }
  return fields;
}

/** The archive path of an entry, as a clean relative path ("" for the root). */
function cleanName(name: string, fail: (cause: string) => never): string {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) fail(`unsafe path '${name}' in data archive`);
  return parts.join("/");
}

/** Where a path of the package lands in the layer (merged /usr). */
export function normalizePath(rel: string): string {
  const first = rel.split("/", 1)[0]!;
  return (MERGED_DIRS as readonly string[]).includes(first) ? `usr/${rel}` : rel;
}

/** A relative symlink target re-aimed so that it still reaches the same file
 * after both ends moved. Targets that leave the root are kept as written. */
function retarget(origRel: string, newRel: string, target: string): string {
  if (target.startsWith("/")) return target;
  const joined = posix.join(posix.dirname(origRel), target);
  if (joined === ".." || joined.startsWith("../")) return target;
  const mapped = normalizePath(joined);
  if (mapped === joined && posix.dirname(origRel) === posix.dirname(newRel)) return target;
  const rel = posix.relative(posix.dirname(newRel), mapped);
  return rel === "" ? "." : rel;
}

async function extractData(tar: Buffer, root: string, notes: string[], fail: (cause: string) => never): Promise<void> {
  // Where each archive path ended up, for hard links and the bin/ vs usr/bin check.
  const origin = new Map<string, string>();
  const fileModes: [string, number][] = [];
  await walkArchive(tar, "data archive", fail, (h, body) => {
    const rel = cleanName(h.name, fail);
    if (rel === "") return;
    const isTop = !rel.includes("/");
    if (isTop && h.type === "symlink" && (MERGED_DIRS as readonly string[]).includes(rel)) return;
    const dest = normalizePath(rel);
    const abs = join(root, dest);
    const previous = origin.get(dest);
    if (h.type === "character-device" || h.type === "block-device" || h.type === "fifo") {
      notes.push(`skipped ${h.type} /${rel}`);
      return;
    }
    // A symlink of the package on the way would take the write outside the layer.
    const link = symlinkOnTheWay(root, dest);
    if (link !== undefined) fail(`/${rel} would be written through the package's symlink /${link}`);
    if (h.type !== "directory") mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
    const clash = (why: string) => fail(`both /${previous} and /${rel} are in the package and ${why}`);
    switch (h.type) {
      case "directory": {
        const st = lstatOrNull(abs);
        if (st && !st.isDirectory()) clash("only one is a directory");
        mkdirSync(abs, { recursive: true, mode: 0o755 });
        break;
      }
      case "file":
      case "contiguous-file": {
        const st = lstatOrNull(abs);
        if (st) {
          if (!st.isFile() || !readFileSync(abs).equals(body)) clash("they differ");
          return;
        }
        writeFileSync(abs, body, { mode: 0o644 });
        fileModes.push([abs, (h.mode ?? 0o644) & 0o1777]);
        if (h.mtime) lutimesSync(abs, h.mtime, h.mtime);
        break;
      }
      case "symlink": {
        const target = retarget(rel, dest, h.linkname ?? "");
        const st = lstatOrNull(abs);
        if (st) {
          if (!st.isSymbolicLink() || readlinkSync(abs) !== target) clash("they differ");
          return;
        }
        symlinkSync(target, abs);
        if (h.mtime) lutimesSync(abs, h.mtime, h.mtime);
        break;
      }
      case "link": {
        const linkRel = cleanName(h.linkname ?? "", fail);
        const linkAbs = join(root, normalizePath(linkRel));
        const through = symlinkOnTheWay(root, normalizePath(linkRel));
        if (through !== undefined) fail(`hard link /${rel} points through the package's symlink /${through}`);
        const st = lstatOrNull(abs);
        if (st) {
          if (!st.isFile() || !readFileSync(abs).equals(readFileSync(linkAbs))) clash("they differ");
          return;
        }
        if (!lstatOrNull(linkAbs)) fail(`hard link /${rel} points to /${linkRel}, which is not in the package before it`);
        linkSync(linkAbs, abs);
        break;
      }
      default:
        // pax and GNU long-name headers are folded into entries by tar-stream.
        notes.push(`skipped /${rel} of unsupported type ${h.type}`);
        return;
    }
    origin.set(dest, rel);
  });
  // setuid/setgid are dropped: a layer never grants privilege.
  for (const [abs, mode] of fileModes) chmodSync(abs, mode & ~0o6000 & ~0o222);
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** Dirs 0555, files without write bits; the top directory too unless told not. */
function makeReadOnly(root: string, top = true): void {
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        walk(p);
        chmodSync(p, 0o555);
      } else if (e.isFile()) {
        chmodSync(p, lstatSync(p).mode & 0o1555);
      }
    }
  };
  walk(root);
  chmodSync(root, top ? 0o555 : 0o755);
}
