// How the command line tells a user's mistake from a bug. Any error that carries a string `code`
// (ml's EngineError, db's DbError, the CLI's own CliError) is the user's to fix and is printed as
// one line; anything else is an internal error.
export class CliError extends Error {
  readonly code = 'BAD_ARGUMENTS';
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export type UserError = Error & { code: string; exitCode?: number };

export function isUserError(err: unknown): err is UserError {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code);
}
