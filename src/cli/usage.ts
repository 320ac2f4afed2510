// Bad usage of the synfin commands: one line, exit 2, and a pointer to --help.

/** Bad flags or arguments; the command prints the message and exits 2. */
export class UsageError extends Error {}

/** node:util parseArgs's error in a few words ("unknown option '--x'"). */
export function parseArgsMessage(e: NodeJS.ErrnoException): string {
  const option = /'([^']+)'/.exec(e.message)?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `unknown option '${option}'`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) return `${option.split(" ")[0]} needs a value`;
  return e.message;
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30, T: 2 ** 40 };

/** "2G", "500M", "1048576", "1.5G": a size in bytes (binary units) given for `flag`. */
export function parseSize(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)i?B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag} takes a size such as 2G, 500M or 1048576, got '${text}'`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
}
