// A Nix remote builder on this machine, for test/nix.test.ts: an sshd of the
// test's own on a free localhost port (its config, host key and the client's
// key in a temporary directory), and the user fhs-nixremote (test/setup.sh
// creates it) whose Nix store is its own, a chroot store in its home. Nix
// reaches it as `ssh://fhs-nixremote@127.0.0.1` and runs `nix-store --serve
// --write` there, which builds as that user, in its own sandbox. stop()
// kills the sshd and removes the directory; the remote store stays, like
// the machine's, so a later run copies only what changed.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REMOTE_BUILD_USER = "fhs-nixremote";

export interface RemoteBuilder {
  /** The value of --builders. */
  builders: string;
  /** The environment nix-build needs to reach it (NIX_SSHOPTS). */
  env: Record<string, string>;
  /** The remote user's store, as a --store URL. */
  store: string;
  /** Runs a command as the remote user. */
  runAsRemote(argv: string[]): ReturnType<typeof spawnSync>;
  stop(): void;
}

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRemoteBuilder(): Promise<RemoteBuilder> {
  const [, , uid, gid, , home] = must("getent", ["passwd", REMOTE_BUILD_USER]).trim().split(":");
  const user = { uid: Number(uid), gid: Number(gid), home: home! };
  const storeRoot = join(user.home, "nix-store");
  const store = `local?root=${storeRoot}`;

  // The remote user's Nix: its own store, the sandbox on, nothing to substitute.
  const conf = join(user.home, ".config", "nix");
  mkdirSync(conf, { recursive: true });
  writeFileSync(join(conf, "nix.conf"), `store = ${store}\nsandbox = true\nsandbox-fallback = false\nsubstituters =\n`);
  for (const d of [join(user.home, ".config"), conf, join(conf, "nix.conf")]) chownSync(d, user.uid, user.gid);

  const dir = mkdtempSync(join(tmpdir(), "fhs-remote-builder-"));
  // sshd reads authorized_keys as the remote user.
  chmodSync(dir, 0o755);
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fhs-test-host", "-f", join(dir, "host_key")]);
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fhs-test-client", "-f", join(dir, "client_key")]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")), { mode: 0o644 });
  const port = await freePort();
  writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8")}`);
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      // The keys live in a temporary directory under /tmp, which StrictModes refuses.
      "StrictModes no",
      `AllowUsers ${REMOTE_BUILD_USER}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      `PidFile ${join(dir, "sshd.pid")}`,
    ].join("\n") + "\n",
  );
  // sshd's privilege separation directory (a systemd unit makes it, elsewhere).
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const sshd: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  let sshdLog = "";
  sshd.stderr!.on("data", (d: Buffer) => (sshdLog += d.toString()));

  const sshOpts = `-p ${port} -o UserKnownHostsFile=${join(dir, "known_hosts")} -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes`;
  const stop = () => {
    if (sshd.exitCode === null && sshd.pid) process.kill(sshd.pid, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  // Up when a login works.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = spawnSync("ssh", [...sshOpts.split(" "), "-i", join(dir, "client_key"), `${REMOTE_BUILD_USER}@127.0.0.1`, "nix-store", "--version"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    if (r.status === 0) break;
    if (Date.now() > deadline || sshd.exitCode !== null) {
      stop();
      throw new Error(`remote builder: no ssh login on port ${port}: ${r.stderr}\nsshd: ${sshdLog}`);
    }
    spawnSync("sleep", ["0.2"]);
  }
  return {
    builders: `ssh://${REMOTE_BUILD_USER}@127.0.0.1 ${process.arch === "x64" ? "x86_64-linux" : "aarch64-linux"} ${join(dir, "client_key")} 1 1`,
    env: { NIX_SSHOPTS: sshOpts },
    store,
    runAsRemote: (argv) =>
      spawnSync("/usr/bin/setpriv", [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", ...argv], {
        encoding: "utf8",
        timeout: 120_000,
        env: { PATH: "/usr/bin:/bin", HOME: user.home, USER: REMOTE_BUILD_USER },
      }),
    stop,
  };
}
