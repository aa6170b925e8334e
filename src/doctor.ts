// `fhs doctor`: what this machine can do, each finding with a one-line remedy.
// The kernel probes run for real, in throwaway child processes of the launcher.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { defaultPolicyWasm, dynamicLauncherPath, launcherPath } from "./paths.js";
import { LIMITS } from "./abi.js";

export interface Finding {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when not ok. */
  remedy: string;
}

const REMEDIES: Record<string, string> = {
  userns: "enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 (Debian) or user.max_user_namespaces>0; on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0",
  "overlay-in-userns": "use Linux >= 5.11 with the overlay module loaded (modprobe overlay)",
  "lowerdir-plus": "use Linux >= 6.8 for views over ~60 layers; below that fhs falls back to mount(2)",
  "pivot-root-tmpfs": "run outside a chroot (pivot_root needs a real mount namespace root)",
};

export function doctor(): Finding[] {
  const findings: Finding[] = [];
  const built = (path: string, name: string, remedy: string, extra?: (size: number) => string | undefined) => {
    try {
      const st = statSync(path);
      const problem = extra?.(st.size);
      findings.push({ name, ok: !problem, detail: problem ?? `${path} (${st.size} bytes)`, remedy });
    } catch {
      findings.push({ name, ok: false, detail: `${path} is missing`, remedy });
    }
  };
  built(launcherPath, "launcher", "run: npm run build:launcher (a static libc is needed: Debian libc6-dev)");
  built(dynamicLauncherPath, "launcher-dynamic", "run: npm run build:launcher");
  built(defaultPolicyWasm, "policy", "run: npm run build:policy", (size) =>
    size > LIMITS.defaultPolicySizeBudget ? `${defaultPolicyWasm} is ${size} bytes, over its ${LIMITS.defaultPolicySizeBudget}-byte budget` : undefined,
  );

  const probe = spawnSync(launcherPath, ["probe"], { encoding: "utf8" });
  if (probe.error || (probe.status !== 0 && probe.status !== 1)) {
    const why = probe.error?.message ?? (probe.stderr.trim() || `exit ${probe.status}`);
    for (const name of Object.keys(REMEDIES)) {
      findings.push({ name, ok: false, detail: `not probed: the launcher did not run (${why})`, remedy: "run: npm run build:launcher" });
    }
    return findings;
  }
  for (const line of probe.stdout.trim().split("\n")) {
    const [name = "", status, detail = ""] = line.split("\t");
    findings.push({ name, ok: status === "ok", detail: detail || (status === "ok" ? "works" : "failed"), remedy: REMEDIES[name] ?? "" });
  }
  return findings;
}
