// The policy a package runs under: one method per decision, each delegating
// to the built-in decision (launch.ts, build.ts, wrap.ts), and the request
// dispatch that reads the facts (facts.ts) and composes a plan from those
// methods. A custom policy extends Policy and overrides the one decision it
// changes (docs/POLICY.md); the plan's shape, the facts and the ABI stay the
// built-in ones, so it cannot get them subtly wrong.
import { planBuild, buildBindsOf } from "./build";
import { classifyConflicts } from "./conflicts";
import { BuildFacts, Candidate, HostEntry, LaunchFacts, WrapFacts, buildFacts, launchFacts, wrapFacts } from "./facts";
import { bindsHostEntry, etcFromOf, etcLinksOf, hostEtcOf, isFastPath, isInside, overlaysDir, planLaunch, strategyOf, viewLayersOf } from "./launch";
import { Layer } from "./layers";
import { RecordWriter, fail } from "./records";
import { planWrap, wrapsCandidate } from "./wrap";

export class Policy {
  /** Answers one request (its first record names it); 0 with the plan in
   * `out`, or 1 with `error MESSAGE`. */
  evaluate(input: Array<Array<string>>, out: RecordWriter): i32 {
    if (input.length == 0 || input[0][0] != "req" || input[0].length != 2) return fail(out, "the first record must be: req <kind>");
    const kind = input[0][1];
    if (kind == "echo") {
      // Round-trips the input through the codec: the conformance seed that
      // proves both hosts read and write records identically.
      for (let i = 0; i < input.length; i++) out.record(input[i]);
      return 0;
    }
    if (kind == "launch") {
      const f = launchFacts(input);
      return f.error != "" ? fail(out, f.error) : planLaunch(this, f, out);
    }
    if (kind == "wrap") return planWrap(this, wrapFacts(input), out);
    if (kind == "build") {
      const f = buildFacts(input);
      return f.error != "" ? fail(out, f.error) : planBuild(this, f, out);
    }
    if (kind == "conflicts") return classifyConflicts(input, out);
    return fail(out, "unknown request kind: " + kind);
  }

  // ---- req launch

  /** Whether the launch runs inside a view (isInside). */
  inside(f: LaunchFacts): bool {
    return isInside(f);
  }

  /** Inside a view: whether the program just runs there, no new view (isFastPath). */
  fastPath(f: LaunchFacts): bool {
    return isFastPath(f);
  }

  /** The view's layers, top first (viewLayersOf). */
  viewLayers(f: LaunchFacts, inside: bool): Layer[] {
    return viewLayersOf(f, inside);
  }

  /** Where the host's /etc is, "" for nowhere (hostEtcOf). */
  hostEtc(f: LaunchFacts): string {
    return hostEtcOf(f);
  }

  /** Where /etc comes from: "host", "layers" or "layers+host" (etcFromOf). */
  etcFrom(f: LaunchFacts, hostEtc: string): string {
    return etcFromOf(f, hostEtc);
  }

  /** Whether /DIR (usr, etc, opt) is made from the layers (overlaysDir). */
  overlays(f: LaunchFacts, dir: string, etcFrom: string): bool {
    return overlaysDir(f, dir, etcFrom);
  }

  /** Files under /etc linked to the host's over the layers' (etcLinksOf). */
  etcLinks(f: LaunchFacts): string[] {
    return etcLinksOf(f);
  }

  /** How the view is made, given the dirs it overlays and how many lowers
   * /usr has: "in-place" or "new-root"; any other string refuses the launch
   * with it (strategyOf). */
  strategy(f: LaunchFacts, overlaid: string[], usrLowers: i32): string {
    return strategyOf(f, overlaid, usrLowers);
  }

  /** Whether a host top-level entry is bound into the view (bindsHostEntry). */
  bindHost(f: LaunchFacts, h: HostEntry): bool {
    return bindsHostEntry(f, h);
  }

  /** The environment set in the view, as key, value pairs (the config's). */
  environment(f: LaunchFacts): string[] {
    return f.env;
  }

  // ---- req build

  /** The host's top-level dirs a build sees (buildBindsOf). */
  buildBinds(f: BuildFacts): string[] {
    return buildBindsOf(f);
  }

  // ---- req wrap

  /** Whether a candidate of the package gets a wrapper (wrapsCandidate). */
  wraps(f: WrapFacts, c: Candidate): bool {
    return wrapsCandidate(f, c);
  }
}
