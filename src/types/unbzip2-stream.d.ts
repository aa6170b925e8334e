// unbzip2-stream ships no types: it is a `through` stream, compressed bytes in, plain bytes out.
declare module "unbzip2-stream" {
  import type { Duplex } from "node:stream";
  export default function unbzip2Stream(): Duplex;
}
