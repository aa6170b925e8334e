// Reading tar archives, for every archive fhs unpacks: a Debian package's
// control and data archives (debimport.ts) and a build's source tarball
// (build.ts). One reader, tar-stream, and not GNU tar: a .deb's entries must be
// normalized (merged /usr, symlinks re-aimed, setuid dropped) before they
// touch the disk, which only a reader that hands over entry by entry can do,
// and a build's source then goes through the same reader with the same checks
// (no `..`, nothing written through a symlink) instead of a second program
// with rules of its own. Bodies are held in memory one entry at a time; the
// archive itself is streamed.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable, Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress as ZstdDecompress } from "fzstd";
import { extract as tarExtract, type Header } from "tar-stream";
import unbzip2Stream from "unbzip2-stream";
import xz from "xz-decompress";

export type { Header };

export type Compression = "none" | "gzip" | "xz" | "bzip2" | "zstd";

/** A tar archive's compression, told by its first bytes (as GNU tar tells it). */
export function compressionOf(head: Uint8Array): Compression {
  const starts = (...magic: number[]) => magic.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return "gzip";
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return "xz";
  if (starts(0x42, 0x5a, 0x68)) return "bzip2";
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return "zstd";
  return "none";
}

/** xz-embedded's return codes (xz.h), for errors that otherwise give only a number. */
const XZ_ERRORS = ["", "", "unsupported integrity check", "out of memory", "memory limit reached", "not xz data", "unsupported xz options", "compressed data is corrupt", "compressed data is truncated"];

/** A decompressor's error in words. */
export function decompressionMessage(e: Error): string {
  const code = /get_next_output failed with error code (\d+)/.exec(e.message)?.[1];
  return (code && XZ_ERRORS[Number(code)]) || e.message;
}

/** Chunks of a buffer, so a decompressor that is fed by hand keeps pace with its reader. */
function* chunks(data: Uint8Array, size = 1 << 16): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** `data` decompressed, as a stream; corrupt data makes the stream error. */
export function decompress(data: Uint8Array, how: Compression): Readable {
  switch (how) {
    case "none":
      return Readable.from(chunks(data));
    case "gzip":
      return through(createGunzip(), data);
    case "bzip2":
      return through(unbzip2Stream(), data);
    case "zstd": {
      const out = new Transform({
        transform(chunk: Buffer, _enc, done) {
          try {
            z.push(chunk);
            done();
          } catch (e) {
            done(e as Error);
          }
        },
        flush(done) {
          try {
            z.push(new Uint8Array(0), true);
            done();
          } catch (e) {
            done(e as Error);
          }
        },
      });
      const z = new ZstdDecompress((chunk) => out.push(Buffer.from(chunk)));
      return Readable.from(chunks(data)).pipe(out);
    }
    case "xz": {
      const stream = new xz.XzReadableStream(new Blob([new Uint8Array(data)]).stream());
      return Readable.fromWeb(stream as Parameters<typeof Readable.fromWeb>[0]);
    }
  }
}

/** data through a decompressor (a Node stream or a classic one), its errors forwarded. */
function through(decompressor: NodeJS.ReadWriteStream, data: Uint8Array): Readable {
  const out = new PassThrough();
  decompressor.on("error", (e: Error) => out.destroy(e));
  Readable.from(chunks(data)).pipe(decompressor).pipe(out);
  return out;
}

/** All of a stream, or its error. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Walks a tar archive; calls onEntry for every entry, in order, with its
 * body. pax and GNU long-name headers are folded into the entries. Throws
 * the reader's (or onEntry's) error. */
export async function walkTar(tar: Readable, onEntry: (h: Header, body: Buffer) => void | Promise<void>): Promise<void> {
  // Old v7 headers (no ustar or GNU magic) are tar too, checksummed like the
  // others: automake's `make dist` writes them (GNU hello 2.10's release).
  // (tar-stream's typings lag its options.)
  const ex = tarExtract({ allowUnknownFormat: true } as Parameters<typeof tarExtract>[0]);
  tar.on("error", (e: Error) => ex.destroy(e));
  tar.pipe(ex);
  for await (const entry of ex) {
    const body: Buffer[] = [];
    for await (const c of entry) body.push(c as Buffer);
    await onEntry(entry.header, Buffer.concat(body));
  }
}

/** The first directory on the way to root/rel that is a symlink (an earlier
 * entry of the archive), or undefined. Writing there would land wherever it
 * points: outside the tree being unpacked. */
export function symlinkOnTheWay(root: string, rel: string): string | undefined {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const at = parts.slice(0, i).join("/");
    try {
      if (lstatSync(join(root, at)).isSymbolicLink()) return at;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
