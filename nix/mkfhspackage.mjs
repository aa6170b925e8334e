// The builder of nix/default.nix's mkFhsPackage, run by Node in the view of
// `node` inside Nix's sandbox: the two commands a user runs by hand,
// `fhs build` then `fhs wrap`, with the arguments the Nix expression made
// (JSON in $fhsBuild and $fhsWrap; a Nix list in the environment would be
// joined by spaces). Their output and errors are the CLI's own.
import { spawnSync } from "node:child_process";

for (const step of ["fhsBuild", "fhsWrap"]) {
  const args = JSON.parse(process.env[step] ?? "null");
  if (!Array.isArray(args)) {
    process.stderr.write(`fhs: mkFhsPackage: $${step} is not a JSON list\n`);
    process.exit(2);
  }
  const r = spawnSync(process.execPath, [process.env.fhsCli, ...args], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
