// One error type for the whole library. Commands catch it once, at the CLI
// boundary, print `fhs: <message>` on one line and exit with `exitCode`.
// Exit codes are an API; their values live in abi/abi.json (EXIT):
//   0 ok, 1 check found violations, 2 usage / input / internal error,
//   3 and 4 for fhs build.
import { EXIT } from "./abi.js";

export { EXIT };
/** Names the call sites use for the ABI's codes (the values are EXIT's). */
export const EXIT_OK = EXIT.ok;
export const EXIT_VIOLATIONS = EXIT.violations;
export const EXIT_USAGE = EXIT.usage;

export class FhsError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = "FhsError";
  }
}
