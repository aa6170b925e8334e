// Removing a tree fhs made: a staging dir, a half-imported layer, a read-only
// layer. Its directories may be read-only (layers are 0555) or mode 000
// (overlay's work dir), so each is made ours before its entries are listed.
import { chmodSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Removes a tree, whatever its directories' modes. */
export function removeTree(path: string): void {
  const stack = [path];
  while (stack.length) {
    const p = stack.pop()!;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    try {
      chmodSync(p, 0o700);
      for (const e of readdirSync(p)) stack.push(join(p, e));
    } catch {
      // Not ours to fix; rmSync reports it.
    }
  }
  rmSync(path, { recursive: true, force: true });
}
