import type { CAC } from "cac";
import { doctor } from "../doctor.js";
import { EXIT_VIOLATIONS } from "../errors.js";
import { green, red } from "../output.js";

export function register(cli: CAC): void {
  cli
    .command("doctor", "Check that this machine can build and run fhs views")
    .option("--json", "Print the findings as JSON")
    .action((options: { json?: boolean }) => {
      const findings = doctor();
      if (options.json) {
        console.log(JSON.stringify(findings, null, 2));
      } else {
        for (const f of findings) {
          console.log(`${f.ok ? green("ok  ") : red("FAIL")} ${f.name.padEnd(18)} ${f.detail}`);
          if (!f.ok && f.remedy) console.log(`     ${"".padEnd(18)} remedy: ${f.remedy}`);
        }
      }
      return findings.every((f) => f.ok) ? 0 : EXIT_VIOLATIONS;
    });
}
