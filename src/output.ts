// Output helpers shared by commands: colors only on a TTY (and never with NO_COLOR).
const color = (code: number) => (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = color(32);
export const red = color(31);
export const yellow = color(33);
export const bold = color(1);
