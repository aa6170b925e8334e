// One error type for the whole library. Commands catch it once, at the CLI
// boundary, print `fhs: <message>` on one line and exit with `exitCode`.
// Exit codes are an API (README.md, "Commands and exit codes"):
//   0 ok, 1 check found violations, 2 usage / input / internal error.
export const EXIT_OK = 0;
export const EXIT_VIOLATIONS = 1;
export const EXIT_USAGE = 2;

export class FhsError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = "FhsError";
  }
}
