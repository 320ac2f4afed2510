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
