// All-or-nothing changes to a user's files (`fhs wrap`). Every step is
// recorded with its inverse; when a later step fails, the steps done so far
// are undone in reverse order, so the directory is left as it was found. No
// step ever replaces an existing file: a move is link(2) then unlink(2), and
// link fails with EEXIST where rename(2) would silently overwrite, so a
// program can never be lost under another name.
import { copyFileSync, chmodSync, constants, linkSync, lstatSync, mkdirSync, renameSync, rmdirSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { FhsError } from "./errors.js";

/** Whether a path exists, without following a final symlink. */
export function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Moves `from` to `to`, never replacing an existing `to`. */
export function moveNoReplace(from: string, to: string): void {
  if (lstatSync(from).isDirectory()) {
    // Directories cannot be hard-linked; the check and the rename are as
    // close as Node allows (the directory is the caller's own).
    if (lexists(to)) throw new FhsError(`${to}: already exists; not replaced`);
    renameSync(from, to);
    return;
  }
  try {
    linkSync(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new FhsError(`${to}: already exists; not replaced`);
    // A filesystem without hard links (or with protected_hardlinks refusing
    // them): check, then rename.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK" && code !== "EXDEV") throw e;
    if (lexists(to)) throw new FhsError(`${to}: already exists; not replaced`);
    renameSync(from, to);
    return;
  }
  try {
    unlinkSync(from);
  } catch (e) {
    // Both names exist: drop the new one, so the step did nothing.
    unlinkSync(to);
    throw e;
  }
}

export class Transaction {
  private readonly undo: { what: string; run: () => void }[] = [];

  /** True once a step has changed something. */
  get started(): boolean {
    return this.undo.length > 0;
  }

  mkdir(path: string): void {
    mkdirSync(path);
    this.undo.push({ what: `remove directory ${path}`, run: () => rmdirSync(path) });
  }

  /** Creates each missing component of `path`, each undone on its own. */
  mkdirs(path: string): void {
    if (lexists(path)) return;
    this.mkdirs(dirname(path));
    this.mkdir(path);
  }

  move(from: string, to: string): void {
    moveNoReplace(from, to);
    this.undo.push({ what: `move ${to} back to ${from}`, run: () => moveNoReplace(to, from) });
  }

  symlink(target: string, path: string): void {
    symlinkSync(target, path);
    this.undo.push({ what: `remove ${path}`, run: () => unlinkSync(path) });
  }

  /** The launcher at `path`: a hard link when the filesystem allows, else a copy. */
  placeLauncher(launcher: string, path: string): void {
    try {
      linkSync(launcher, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new FhsError(`${path}: already exists; not replaced`);
      copyFileSync(launcher, path, constants.COPYFILE_EXCL);
      chmodSync(path, 0o755);
    }
    this.undo.push({ what: `remove ${path}`, run: () => unlinkSync(path) });
  }

  /** Undoes every step, last first. Returns what could not be undone, if anything. */
  rollback(): string | undefined {
    const failed: string[] = [];
    for (const step of this.undo.reverse()) {
      try {
        step.run();
      } catch (e) {
        failed.push(`${step.what}: ${(e as Error).message}`);
      }
    }
    this.undo.length = 0;
    if (failed.length === 0) return undefined;
    return failed.length > 1 ? `${failed[0]}, and ${failed.length - 1} more` : failed[0];
  }
}

/** A signal that arrived while a change was being made. */
export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

const HELD: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Holds SIGINT, SIGTERM and SIGHUP while a change is made. Node runs signal
 * listeners only between synchronous sections, so a change made in one
 * synchronous section is never cut in half by them; `arrived()` yields to
 * the event loop and says whether one came, so the change can be undone. */
export function holdSignals(): { arrived(): Promise<boolean>; release(): void; signal?: NodeJS.Signals } {
  const state: { arrived(): Promise<boolean>; release(): void; signal?: NodeJS.Signals } = {
    signal: undefined,
    arrived: async () => {
      // A signal waits in libuv's signal pipe until the loop polls; the first
      // turn may end (check phase) before its poll phase, the second follows one.
      for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
      return state.signal !== undefined;
    },
    release: () => {
      for (const s of HELD) process.off(s, on);
    },
  };
  const on = (sig: NodeJS.Signals) => {
    state.signal ??= sig;
  };
  for (const s of HELD) process.on(s, on);
  return state;
}
