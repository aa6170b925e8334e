import type { Action } from "../cli-config.js";
import { doctor as probe } from "../doctor.js";
import { EXIT_VIOLATIONS } from "../errors.js";
import { green, red } from "../output.js";

export const doctor: Action<"doctor"> = (_args, o) => {
  const findings = probe();
  if (o.json) {
    console.log(JSON.stringify(findings, null, 2));
  } else {
    for (const f of findings) {
      console.log(`${f.ok ? green("ok  ") : red("FAIL")} ${f.name.padEnd(18)} ${f.detail}`);
      if (!f.ok && f.remedy) console.log(`     ${"".padEnd(18)} remedy: ${f.remedy}`);
    }
  }
  return findings.every((f) => f.ok) ? 0 : EXIT_VIOLATIONS;
};
