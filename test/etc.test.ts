// A view's /etc: the layers' defaults over the host's /etc, and the machine's
// own files (users, names, DNS) always the host's. Real Debian programs, each
// Debian package its own layer, run through their wrappers as the
// unprivileged test user.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { debLayers } from "./helpers/debian.js";
import { policiesDir } from "../src/paths.js";
import { decodeRecords } from "../src/policy/records.js";
import { isRoot, repoRoot, runUnprivileged, testDir, testUser, TEST_USER } from "./helpers/env.js";
import { packageFromLayers, shellPackage, wrapPackage } from "./helpers/wrapped.js";
import { LAUNCHER_EXIT } from "../src/abi.js";
import { PLAN_ENTRY, rewritePlanEntry } from "./helpers/plan-cache.js";

/** A Debian package's own files as a wrapped package; every package of its
 * closure its own layer, after `extra` layers. */
function wrapDeb(name: string, extra: string[] = [], config?: string): string {
  const [own, ...deps] = debLayers([name], { withDeps: true });
  return wrapPackage(packageFromLayers([own!], name), [...extra, ...deps], config ? ["--config", config] : []);
}

/** A layer holding these files under etc/ (and a usr/ of its own), owned by
 * the test user: writable on disk by the very user who runs the views. */
function etcLayer(name: string, files: Record<string, string>): string {
  const dir = join(testDir(`fhs-${name}-`), name);
  mkdirSync(join(dir, "usr/share", name), { recursive: true });
  writeFileSync(join(dir, "usr/share", name, "README"), `${name}: a layer that ships files under /etc\n`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, "etc", rel, ".."), { recursive: true });
    writeFileSync(join(dir, "etc", rel), text);
  }
  if (isRoot) execFileSync("chown", ["-R", `${testUser.uid}:${testUser.gid}`, join(dir, "..")]);
  return dir;
}

/** A config like the default one, with /etc from `etc`. */
function configWithEtc(etc: string): string {
  const config = JSON.parse(readFileSync(join(policiesDir, "default.json"), "utf8"));
  delete config.$schema;
  config.overlay.etc = etc;
  const file = join(testDir(), `etc-${etc}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Every plan the launches of one command printed (FHS_DEBUG=plan), in order. */
function plansFromStderr(stderr: string): string[][][] {
  const recs = decodeRecords(Buffer.from(stderr.slice(0, stderr.lastIndexOf("\0\0") + 2)));
  const plans: string[][][] = [];
  for (const r of recs) {
    if (r[0] === "plan") plans.push([]);
    plans.at(-1)?.push(r);
  }
  return plans;
}

// A layer that ships machine files of its own (as some images do): the view
// must still show the host's.
const impostor = etcLayer("etc-impostor", {
  passwd: "root:x:0:0:from a layer:/root:/bin/false\n",
  "resolv.conf": "nameserver 192.0.2.53\n",
  "fhs-impostor.conf": "a package default from the impostor layer\n",
});
const hostUserLine = execFileSync("getent", ["passwd", TEST_USER], { encoding: "utf8" });

/** Runs argv, as the test user, on a host whose /etc holds only the
 * machine's own files (users, names, DNS): no /etc/fonts, no
 * /etc/ImageMagick-6, whatever this machine has. A root made of the host's
 * other top-level dirs and a fresh /etc, entered by pivot_root in a user +
 * mount namespace of the test user's own (chroot would stop the launcher's
 * user namespace). $FHS_HOST_ETC_SCRIPT, when set, runs in that root instead
 * of exec'ing argv, with argv as "$@". */
const MACHINE_FILES = ["passwd", "group", "nsswitch.conf", "hosts", "resolv.conf", "hostname"];
const HOST_WITH_MACHINE_ETC_ONLY = `set -e
root=$(mktemp -d)
mount -t tmpfs -o mode=0755 fhs-host "$root"
for d in /*; do
  name=\${d#/}
  if [ -L "$d" ]; then ln -s "$(readlink "$d")" "$root/$name"
  elif [ -d "$d" ] && [ "$name" != etc ]; then mkdir "$root/$name"; mount --rbind "$d" "$root/$name"
  fi
done
mkdir "$root/etc" "$root/oldroot"
for f in ${MACHINE_FILES.join(" ")}; do if [ -e "/etc/$f" ]; then cp "/etc/$f" "$root/etc/"; fi; done
cd "$root"
/usr/sbin/pivot_root . oldroot
umount -l /oldroot
cd /
if [ -n "$FHS_HOST_ETC_SCRIPT" ]; then eval "$FHS_HOST_ETC_SCRIPT"; else exec "$@"; fi`;
function onHostWithMachineEtcOnly(argv: string[], opts: Parameters<typeof runUnprivileged>[1] = {}) {
  return runUnprivileged(["unshare", "-Urm", "/bin/sh", "-c", HOST_WITH_MACHINE_ETC_ONLY, "sh", ...argv], opts);
}

/** Prints the paths under the given ones that the caller may write, one a line. */
const WRITABLE = 'for f in "$@"; do for g in "$f" "$f"/* "$f"/*/*; do if [ -e "$g" ] && [ -w "$g" ]; then echo "$g"; fi; done; done';

let shellPkg: string;
before(() => {
  shellPkg = shellPackage().pkg;
});

describe("/etc in a view: the layers' defaults over the host's", () => {
  it("ImageMagick's convert reads its /etc/ImageMagick-6, which only its imagemagick-6-common layer has", () => {
    const convert = (pkg: string) => onHostWithMachineEtcOnly([join(pkg, "usr/bin/convert-im6.q16"), "-size", "1x1", "xc:red", "txt:-"]);
    const r = convert(wrapDeb("imagemagick-6.q16"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# ImageMagick pixel enumeration: 1,1,65535,srgb\n0,0: \(65535,0,0\) +#FFFF00000000 +red\n$/);
    assert.equal(r.stderr, "");
    // The same program with only the host's /etc misses its own configuration.
    const hostOnly = convert(wrapDeb("imagemagick-6.q16", [], configWithEtc("host")));
    assert.match(hostOnly.stderr, /unable to access configure file `colors\.xml'/);
  });

  it("fontconfig's fc-match on a host without /etc/fonts uses the fontconfig-config layer's", () => {
    const run = (pkg: string, prog: string, ...args: string[]) =>
      onHostWithMachineEtcOnly([join(pkg, "usr/bin", prog), ...args], { env: { XDG_CACHE_HOME: testDir("fhs-fc-cache-") } });
    const pkg = wrapDeb("fontconfig");
    const match = run(pkg, "fc-match", "monospace");
    assert.equal(match.status, 0, match.stderr);
    assert.equal(match.stdout, 'DejaVuSansMono.ttf: "DejaVu Sans Mono" "Book"\n');
    assert.equal(match.stderr, "");
    const conf = run(pkg, "fc-conflist");
    assert.match(conf.stdout, /^\+ \/etc\/fonts\/conf\.d\/60-latin\.conf: /m);
    // Only the host's /etc: no configuration, so no monospace alias either.
    const hostOnly = run(wrapDeb("fontconfig", [], configWithEtc("host")), "fc-match", "monospace");
    assert.match(hostOnly.stderr, /^Fontconfig error: Cannot load default config file/m);
    assert.notEqual(hostOnly.stdout, match.stdout);
  });
});

describe("/etc in a view: the machine's own files are the host's", () => {
  it("getent passwd finds the caller through libc's NSS from the layers and the host's passwd, not a layer's", () => {
    const pkg = wrapDeb("libc-bin", [impostor]);
    const r = runUnprivileged([join(pkg, "usr/bin/getent"), "passwd", TEST_USER, "root"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, hostUserLine + execFileSync("getent", ["passwd", "root"], { encoding: "utf8" }));
  });

  it("DNS: /etc/resolv.conf holds the host's, even with a layer that ships one; the layer's other files show", () => {
    const pkg = wrapDeb("coreutils", [impostor]);
    const r = runUnprivileged([join(pkg, "usr/bin/cat"), "/etc/resolv.conf", "/etc/fhs-impostor.conf"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, readFileSync("/etc/resolv.conf", "utf8") + "a package default from the impostor layer\n");
  });

  it("a host file replaced while the view runs (as DHCP replaces resolv.conf) is seen replaced", () => {
    const dir = testDir("fhs-etc-sync-");
    const view = `cat /etc/resolv.conf; echo > ${dir}/ready; read x < ${dir}/go; cat /etc/resolv.conf`;
    const host = `mkfifo ${dir}/ready ${dir}/go
echo "nameserver 192.0.2.1" > /etc/resolv.conf
"$@" & read x < ${dir}/ready
echo "nameserver 192.0.2.2" > /etc/resolv.conf.new && mv /etc/resolv.conf.new /etc/resolv.conf
echo > ${dir}/go; wait $!`;
    const r = onHostWithMachineEtcOnly([join(shellPkg, "usr/bin/dash"), "-c", view], { env: { FHS_HOST_ETC_SCRIPT: host } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "nameserver 192.0.2.1\nnameserver 192.0.2.2\n");
  });
});

describe("/etc in a view: a host /etc with mounts below it", () => {
  it("as a container runtime binds resolv.conf: /etc is the host's, as it is, with its mounts; fhs plan agrees", () => {
    const dir = testDir("fhs-etc-mounted-");
    writeFileSync(join(dir, "resolv.conf"), "nameserver 192.0.2.99\n");
    // Bound in the namespace the launcher starts from, so locked in the one
    // it makes: an overlay over that /etc would be refused by the kernel.
    const host = `mount --bind ${dir}/resolv.conf /etc/resolv.conf
"$@" 2>${dir}/plan
${process.execPath} ${join(repoRoot, "dist/cli.js")} plan ${join(shellPkg, "usr/bin/dash")} --json > ${dir}/planned`;
    const r = onHostWithMachineEtcOnly([join(shellPkg, "usr/bin/dash"), "-c", "cat /etc/resolv.conf; test -e /etc/ld.so.conf.d/x86_64-linux-gnu.conf || echo no-layer-etc"], {
      env: { FHS_HOST_ETC_SCRIPT: host, FHS_DEBUG: "plan" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "nameserver 192.0.2.99\nno-layer-etc\n");
    const plan = plansFromStderr(readFileSync(join(dir, "plan"), "latin1"))[0]!;
    // In place (this merged-/usr host), the host's /etc is already there: no
    // op touches /etc, it is only kept for nested launches.
    assert.deepEqual(plan[0], ["plan", "inplace"]);
    assert.deepEqual(plan.filter((op) => op[1] === "/etc"), [["host-etc", "/etc"]]);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "planned"), "utf8")), plan);
  });
});

describe("/etc in nested views", () => {
  it("three views deep, each /etc shows every layer's files and the host's, over the host's own /etc", () => {
    const a = etcLayer("etc-a", { "fhs-a.conf": "from layer a\n" });
    const b = etcLayer("etc-b", { "fhs-b.conf": "from layer b\n" });
    const dashA = wrapDeb("dash", [a]);
    const catB = wrapDeb("coreutils", [b]);
    const files = ["/etc/fhs-a.conf", "/etc/fhs-b.conf", "/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "/etc/resolv.conf"];
    const inner = `${join(catB, "usr/bin/cat")} ${files.join(" ")}`;
    const middle = `${join(dashA, "usr/bin/dash")} -c '${inner}'`;
    const r = runUnprivileged([join(shellPkg, "usr/bin/dash"), "-c", middle], { env: { FHS_DEBUG: "plan" } });
    assert.equal(r.status, 0, r.stderr);
    const libc6Conf = readFileSync(join(debLayers(["libc6"])[0]!, "etc/ld.so.conf.d/x86_64-linux-gnu.conf"), "utf8");
    assert.equal(r.stdout, "from layer a\nfrom layer b\n" + libc6Conf + readFileSync("/etc/resolv.conf", "utf8"));
    // Each level's /etc overlay is flat: the original layers over the
    // original host's /etc (kept read-only in the view), never over the
    // current view's /etc overlay (OverlayFS stacks only 2 deep).
    const etcLowest = plansFromStderr(r.stderr)
      .filter((p) => p[0]![1] === "inplace")
      .map((p) => p.find((op) => op[0] === "overlay" && op[1] === "/etc")?.at(-1));
    assert.deepEqual(etcLowest, ["/etc", "/usr/.fhs/host-etc", "/usr/.fhs/host-etc"]);
  });

  it("nested, getent passwd still finds the caller in the host's passwd", () => {
    const pkg = wrapDeb("libc-bin", [impostor]);
    const r = runUnprivileged([join(shellPkg, "usr/bin/dash"), "-c", `${join(pkg, "usr/bin/getent")} passwd ${TEST_USER}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, hostUserLine);
  });
});

describe("/etc in a view: nothing becomes writable", () => {
  it("no path of /etc, or of the kept host /etc, is writable in a view, alone or nested, though its layer is on disk", () => {
    const layer = etcLayer("etc-w", { "fhs-w.conf": "writable on disk\n", "fhs-w.d/x.conf": "also\n" });
    // The test user may write the layer's files on disk: a view that bound them
    // writable would show it.
    assert.match(runUnprivileged(["/bin/sh", "-c", WRITABLE, "sh", join(layer, "etc")]).stdout, /\/etc\/fhs-w\.d\/x\.conf$/m);
    const hostWritable = new Set(runUnprivileged(["/bin/sh", "-c", WRITABLE, "sh", "/etc"]).stdout.split("\n").filter(Boolean));
    const dash = join(wrapDeb("dash", [layer]), "usr/bin/dash");
    for (const argv of [
      [dash, "-c", WRITABLE, "sh", "/etc", "/usr/.fhs/host-etc"],
      [join(shellPkg, "usr/bin/dash"), "-c", `${dash} -c '${WRITABLE}' sh /etc /usr/.fhs/host-etc`],
    ]) {
      const r = runUnprivileged(argv);
      assert.equal(r.status, 0, r.stderr);
      const inView = r.stdout.split("\n").filter(Boolean);
      assert.deepEqual(inView.filter((p) => !hostWritable.has(p)), [], `writable in the view, not on the host: ${inView.join(" ")}`);
    }
  });
});

describe("/etc in a view: the launcher's invariants", () => {
  it("refuses /etc ops a policy must not plan: other host dirs as lowers or sources, unnormalized links, links without the host's /etc", () => {
    const pkg = wrapDeb("hello");
    const manifest = JSON.parse(readFileSync(join(pkg, ".fhs/manifest.json"), "utf8"));
    // A layer's /usr: its usr/ (FHS layout) or itself (Nix layout, as the package's .fhs/raw).
    const usr: string[] = manifest.layers.map((l: { path: string; layout: string }) => (l.layout === "nix" ? l.path : `${l.path}/usr`));
    const libcEtc = `${manifest.layers.find((l: { path: string; dirs: string[] }) => l.dirs.includes("etc")).path}/etc`;
    const runtime = testDir("fhs-xdg-");
    const hello = () => runUnprivileged([join(pkg, "usr/bin/hello")], { env: { XDG_RUNTIME_DIR: runtime } });
    assert.equal(hello().stdout, "Hello, world!\n");
    const [entry] = readdirSync(join(runtime, "fhs-plans")).filter((f) => PLAN_ENTRY.test(f));
    // Each plan is written where the launcher caches the policy's answer: a
    // cached plan is validated exactly as a fresh one.
    const refused: [string[][], RegExp][] = [
      [[["overlay", "/etc", libcEtc, "/home"]], /plan op 'overlay \/etc' refused: a lower layer is not one of the manifest's or the current view's layers$/],
      [[["overlay", "/usr", ...usr, "/etc"]], /plan op 'overlay \/usr' refused: a lower layer is not/],
      [[["etc-link", "../shadow"], ["overlay", "/etc", libcEtc, "/etc"], ["host-etc", "/etc"]], /plan op 'etc-link \.\.\/shadow' refused: etc-link needs one normalized relative path$/],
      [[["host-etc", "/home"]], /plan op 'host-etc \/home' refused: the source must be the host's \/etc, kept once$/],
      [[["host-etc", "/.fhs/host-etc"]], /plan op 'host-etc \/\.fhs\/host-etc' refused/],
      [[["rbind", "/etc", "/home"]], /plan op 'rbind \/etc' refused: the source must be the host top-level directory of the same name$/],
      [[["etc-link", "passwd"], ["overlay", "/etc", libcEtc, libcEtc], ["host-etc", "/etc"]], /plan op 'overlay \/etc' refused: etc-link ops must precede the \/etc overlay over the host's \/etc$/],
      [[["etc-link", "passwd"], ["host-etc", "/etc"]], /plan refused: etc-link ops without the \/etc overlay over the host's \/etc$/],
      [[["etc-link", "passwd"], ["overlay", "/etc", libcEtc, "/etc"]], /plan refused: etc-link ops without host-etc$/],
    ];
    for (const [ops, message] of refused) {
      const usrOp = ops.some((op) => op[1] === "/usr") ? [] : [["overlay", "/usr", ...usr]];
      rewritePlanEntry(join(runtime, "fhs-plans", entry!), [["plan", "view"], ...usrOp, ...ops]);
      const r = hello();
      assert.equal(r.status, LAUNCHER_EXIT.plan, `${JSON.stringify(ops)}: ${r.stderr}`);
      // The cached entry is named, then the validator's reason, then the remedy.
      assert.ok(r.stderr.startsWith(`fhs: plan cache entry ${join(runtime, "fhs-plans", entry!)}: `), r.stderr);
      assert.match(r.stderr.trimEnd().replace(/; not a plan this launcher would cache: remove it with fhs cache prune --all$/, ""), message);
      assert.equal(r.stdout, "");
    }
  });
});
