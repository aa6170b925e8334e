// Conflict classification (request `conflicts`, docs/ABI.md): for each path
// that more than one layer provides, the first provider wins; this decides what
// the collision is and how severe. The CLI sends only contested paths, the
// libraries they resolve to and the version needs of the closure's consumers.
import { CONFLICT_CLASSES } from "./abi-conflicts";
import { RecordWriter, fail } from "./records";

// Ranks: a path takes the worst class over its winner/loser pairs. Each
// class is what glibc's ld.so does with the winner (docs/CONFLICTS.md).
const CLASSES = CONFLICT_CLASSES; // abi/abi.json; the ranks below index it
const STATE_OVERRIDE: i32 = 1;
const SHADOWED: i32 = 2;
const COLLISION: i32 = 3;
const STATE_COLLISION: i32 = 4;
const UNVERSIONED: i32 = 5;
const MISSING_LAZY: i32 = 6;
const MISSING_LOAD: i32 = 7;
const DIAMOND: i32 = 8;
const CLASH: i32 = 9;
// Classes added after the first five: a config written before them need not
// name them; these are their severities then (the loader's outcome decides:
// a load failure is an error, a failure only when a function is called or a
// loader message is a warning, the state dpkg would leave is info).
const LATER_CLASSES: string[] = ["state-override", "state-collision", "unversioned-shadow", "missing-symbol-lazy", "missing-symbol"];
const LATER_LEVELS: string[] = ["info", "warning", "warning", "warning", "error"];

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
  const unversioned = new Array<i32>();
  const generated = new Array<string>();
  for (let i = 1; i < input.length; i++) {
    const r = input[i];
    const k = r[0];
    const n = r.length;
    if (k == "path" && n == 2) paths.push(i);
    else if (k == "prov" && (n == 4 || n == 5)) {
      if (n == 5 && <i32>parseInt(r[4]) >= sonames.length) return fail(out, "prov " + r[1] + ": no lib " + r[4]);
    } else if (k == "unbound" && n == 8) {
      if (r[6] != "load" && r[6] != "lazy") return fail(out, "unbound " + r[1] + ": binding " + r[6] + " is neither load nor lazy");
    } else if (k == "unversioned" && n == 2) unversioned.push(<i32>parseInt(r[1]));
    else if (k == "generated" && n == 2) generated.push(r[1]);
    else if (k == "alt") continue; // read with its path
    else if (k == "lib" && n >= 2) {
      sonames.push(r[1]);
      defs.push(r.slice(2));
    } else if ((k == "need" || k == "weakneed") && n >= 5) needs.push(r);
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
    const later = LATER_CLASSES.indexOf(CLASSES[c]);
    if (at >= 0) levels[c] = sevLevel[at];
    else if (later >= 0) levels[c] = LATER_LEVELS[later];
    else return fail(out, "conflicts: no severity for class " + CLASSES[c]);
  }

  for (let p = 0; p < paths.length; p++) {
    const at = paths[p];
    const path = input[at][1];
    const provs = new Array<Prov>();
    let j0 = at + 1;
    for (; j0 < input.length && input[j0][0] == "prov"; j0++) {
      const r = input[j0];
      provs.push(new Prov(r[1], r[2], r[3], r.length == 5 ? <i32>parseInt(r[4]) : -1));
    }
    // The same SONAME at other paths the loader searches after the winner's
    // (it takes the first in its search order, whatever the layer order).
    const alts = new Array<Prov>();
    for (; j0 < input.length && input[j0][0] == "alt"; j0++) {
      const r = input[j0];
      if (r.length != 4 || <i32>parseInt(r[3]) >= sonames.length) return fail(out, "alt " + r[1] + ": needs LAYER SHA256 LIB, a lib that was sent");
      alts.push(new Prov(r[1], "file", r[2], <i32>parseInt(r[3])));
    }
    // The references the winner cannot bind (facts the CLI read from the
    // consumers' dynamic symbols and relocations), right after the providers.
    const unbound = new Array<Array<string>>();
    for (; j0 < input.length && input[j0][0] == "unbound"; j0++) unbound.push(input[j0]);
    if (provs.length + alts.length < 2) return fail(out, "path " + path + ": needs at least two prov records");
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
      } else if (generated.includes(w.layer)) {
        // Install-time state above a package's entry is what dpkg leaves on
        // a Debian system; two state layers (composed views) are two sets'
        // answers, and the upper one wins without dpkg's priorities.
        c = generated.includes(l.layer) ? STATE_COLLISION : STATE_OVERRIDE;
      } else c = COLLISION;
      if (c > cls) cls = c;
    }
    for (let j = 0; j < alts.length; j++) {
      losers += (losers.length > 0 ? "," : "") + alts[j].layer;
      if (w.lib >= 0 && sonames[w.lib] == sonames[alts[j].lib] && w.value != alts[j].value) {
        if (cls < SHADOWED) cls = SHADOWED;
        libPair = true;
      }
    }
    // A consumer anywhere in the closure that needs a version node the winner
    // lacks breaks at run time: the loser it was linked against is hidden.
    const missing = new Array<Array<string>>();
    const broken = new Array<Array<string>>();
    if (libPair) {
      const soname = sonames[w.lib];
      const have = defs[w.lib];
      // Without DT_VERDEF, ld.so's version check accepts every need ("no
      // version information available", printed at startup, not fatal); the
      // versioned references bound to it fail, which the unbound facts carry.
      const plain = unversioned.includes(w.lib);
      for (let k = 0; k < needs.length; k++) {
        const r = needs[k];
        if (r[1] != soname) continue;
        if (plain) {
          if (cls < UNVERSIONED) cls = UNVERSIONED;
          continue;
        }
        // A weak need the winner lacks fails no version check; its weak
        // references bind to 0.
        if (r[0] == "weakneed") continue;
        for (let v = 4; v < r.length; v++) {
          if (have.includes(r[v])) continue;
          const m = ["missing", r[2], r[3], soname, r[v]];
          const all = provs.slice(1).concat(alts);
          for (let j = 0; j < all.length; j++) {
            const l = all[j];
            if (l.lib >= 0 && sonames[l.lib] == soname && defs[l.lib].includes(r[v])) {
              m.push(l.layer);
              break;
            }
          }
          missing.push(m);
        }
      }
      if (missing.length > 0 && cls < DIAMOND) cls = DIAMOND;
      // A reference bound at load fails the load ("symbol lookup error", or
      // ld.so's check_match assertion for a versioned reference into an
      // unversioned library); a lazily bound one fails at its first call.
      for (let k = 0; k < unbound.length; k++) {
        const r = unbound[k];
        const c = r[6] == "load" ? MISSING_LOAD : MISSING_LAZY;
        if (c > cls) cls = c;
        broken.push(["unbound", r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
      }
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
    for (let k = 0; k < broken.length; k++) out.record(broken[k]);
  }
  return 0;
}
