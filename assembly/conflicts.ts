// Conflict classification (request `conflicts`, docs/ABI.md): for each path
// that more than one layer provides, the first provider wins; this decides what
// the collision is and how severe. The CLI sends only contested paths, the
// libraries they resolve to and the version needs of the closure's consumers.
import { RecordWriter, fail } from "./records";

// Ranks: a path takes the worst class over its winner/loser pairs.
const CLASSES: string[] = ["identical", "shadowed-compatible", "file-collision", "diamond-incompatible", "type-clash"];
const SHADOWED: i32 = 1;
const COLLISION: i32 = 2;
const DIAMOND: i32 = 3;
const CLASH: i32 = 4;

class Prov {
  constructor(public layer: string, public type: string, public value: string, public lib: i32) {}
}

/** `*` and `?` stay within one path component; `**` crosses them. */
function globMatch(g: string, s: string, gi: i32, si: i32): bool {
  while (gi < g.length) {
    const c = g.charCodeAt(gi);
    if (c == 42) {
      const dbl = gi + 1 < g.length && g.charCodeAt(gi + 1) == 42;
      const ng = gi + (dbl ? 2 : 1);
      for (let k = si; k <= s.length; k++) {
        if (globMatch(g, s, ng, k)) return true;
        if (k < s.length && !dbl && s.charCodeAt(k) == 47) return false;
      }
      return false;
    }
    if (si >= s.length) return false;
    const d = s.charCodeAt(si);
    if (c == 63 ? d == 47 : c != d) return false;
    gi++;
    si++;
  }
  return si == s.length;
}

export function classifyConflicts(input: Array<Array<string>>, out: RecordWriter): i32 {
  const sevClass = new Array<string>();
  const sevLevel = new Array<string>();
  const overrides = new Array<Array<string>>();
  const sonames = new Array<string>();
  const defs = new Array<Array<string>>();
  const needs = new Array<Array<string>>();
  const paths = new Array<i32>();
  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    const k = r[0];
    const n = r.length;
    if (k == "path" && n == 2) paths.push(i);
    else if (k == "prov" && (n == 4 || n == 5)) {
      if (n == 5 && <i32>parseInt(r[4]) >= sonames.length) return fail(out, "prov " + r[1] + ": no lib " + r[4]);
    } else if (k == "lib" && n >= 2) {
      sonames.push(r[1]);
      defs.push(r.slice(2));
    } else if (k == "need" && n >= 5) needs.push(r);
    else if (k == "severity" && n == 3) {
      sevClass.push(r[1]);
      sevLevel.push(r[2]);
    } else if (k == "override" && n == 3) overrides.push(r);
    else if (k != "overlay" && k != "etc-from" && k != "etc-host" && k != "never-bind" && k != "setenv" && k != "wrap-dir") {
      return fail(out, "conflicts: unexpected record " + k + " with " + n.toString() + " fields");
    }
  }
  const levels = new Array<string>(CLASSES.length);
  for (let c = 0; c < CLASSES.length; c++) {
    const at = sevClass.lastIndexOf(CLASSES[c]);
    if (at < 0) return fail(out, "conflicts: no severity for class " + CLASSES[c]);
    levels[c] = sevLevel[at];
  }

  for (let p = 0; p < paths.length; p++) {
    const at = paths[p];
    const path = input[at][1];
    const provs = new Array<Prov>();
    for (let j = at + 1; j < input.length && input[j][0] == "prov"; j++) {
      const r = input[j];
      provs.push(new Prov(r[1], r[2], r[3], r.length == 5 ? <i32>parseInt(r[4]) : -1));
    }
    if (provs.length < 2) return fail(out, "path " + path + ": needs at least two prov records");
    const w = provs[0];
    let cls: i32 = 0;
    let libPair = false;
    let losers = "";
    for (let j = 1; j < provs.length; j++) {
      const l = provs[j];
      losers += (j > 1 ? "," : "") + l.layer;
      let c: i32 = 0;
      if (w.type != l.type) c = CLASH;
      else if (w.type == "dir") c = 0;
      else if (w.type != "file" && w.type != "link") c = COLLISION;
      else if (w.value == l.value) c = 0;
      else if (w.lib >= 0 && l.lib >= 0 && sonames[w.lib] == sonames[l.lib]) {
        c = SHADOWED;
        libPair = true;
      } else c = COLLISION;
      if (c > cls) cls = c;
    }
    // A consumer anywhere in the closure that needs a version node the winner
    // lacks breaks at run time: the loser it was linked against is hidden.
    const missing = new Array<Array<string>>();
    if (libPair) {
      const soname = sonames[w.lib];
      const have = defs[w.lib];
      for (let k = 0; k < needs.length; k++) {
        const r = needs[k];
        if (r[1] != soname) continue;
        for (let v = 4; v < r.length; v++) {
          if (have.includes(r[v])) continue;
          const m = ["missing", r[2], r[3], soname, r[v]];
          for (let j = 1; j < provs.length; j++) {
            const l = provs[j];
            if (l.lib >= 0 && sonames[l.lib] == soname && defs[l.lib].includes(r[v])) {
              m.push(l.layer);
              break;
            }
          }
          missing.push(m);
        }
      }
      if (missing.length > 0 && cls < DIAMOND) cls = DIAMOND;
    }
    let level = levels[cls];
    let glob = "";
    for (let o = 0; o < overrides.length; o++) {
      if (globMatch(overrides[o][1], path, 0, 0)) {
        glob = overrides[o][1];
        level = overrides[o][2];
        break;
      }
    }
    out.record(["conflict", path, CLASSES[cls], level, w.layer, losers]);
    if (glob.length > 0) out.record(["override", glob, levels[cls]]);
    for (let k = 0; k < missing.length; k++) out.record(missing[k]);
  }
  return 0;
}
