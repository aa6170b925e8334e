import type { CAC } from "cac";
import { build } from "../build.js";
import { FhsError } from "../errors.js";
import { layersFromSets } from "../layerset.js";

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

export function register(cli: CAC): void {
  cli
    .command("build", "Run COMMAND in a pure build view; what it installs under /usr becomes OUT/usr")
    .usage("build --out OUT [--layer DEP]... [--layers-from SET]... [--src PATH] -- COMMAND...")
    .option("--out <dir>", "Where the result goes (must not exist; written atomically)")
    .option("--layer <dep>", "A build dependency layer (repeatable, in order)")
    .option("--layers-from <set>", "A layer set (fhs layer fetch): all its layers, after the --layer ones (repeatable)")
    .option("--src <path>", "Source: a tarball (gz, xz, bz2, zst) is unpacked, a directory copied, into /build")
    .option("--policy <file>", "A custom policy module (.wasm)")
    .option("--config <file>", "A policy config (.json); default policies/default.json")
    .option("--network", "Let the build reach the network (default: loopback only)")
    .option("--source-date-epoch <n>", "SOURCE_DATE_EPOCH and OUT's timestamps (default 315532800)")
    .example("fhs build --out ./hello --src hello-2.10.tar.gz --layer ... -- sh -c './configure --prefix=/usr && make && make install'")
    .action(async (o: { out?: string; layer?: unknown; layersFrom?: unknown; src?: string; policy?: string; config?: string; network?: boolean; sourceDateEpoch?: string; "--"?: string[] }) => {
      if (!o.out) throw new FhsError("build: --out OUT is required");
      const res = await build({
        out: String(o.out),
        layers: [...list(o.layer), ...layersFromSets(list(o.layersFrom))],
        src: o.src === undefined ? undefined : String(o.src),
        command: o["--"] ?? [],
        policy: o.policy,
        config: o.config,
        network: !!o.network,
        sourceDateEpoch: o.sourceDateEpoch === undefined ? undefined : Number(o.sourceDateEpoch),
      });
      if (res.out) process.stderr.write(`fhs: built ${res.out}\n`);
      return res.exitCode;
    });
}
