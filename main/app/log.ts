// The one logger shape every service takes: the main process, browser mode and the CLI pass theirs.
export type Log = (level: 'info' | 'warn' | 'error', message: string, err?: unknown) => void;

/** A logger to stderr (stdout is kept for the one line `npm run serve` prints). */
export const consoleLog: Log = (level, message, err) => {
  const line = `[${new Date().toISOString()}] ${level} ${message}`;
  process.stderr.write(err instanceof Error ? `${line}\n${err.stack}\n` : err !== undefined ? `${line} ${String(err)}\n` : `${line}\n`);
};
