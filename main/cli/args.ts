// Option parsing shared by every command: node's parseArgs, strict, with errors in one line.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<T extends Options>(argv: string[], options: T, help: string) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help.trimEnd() + '\n');
    process.exit(0);
  }
  // `--epochs -1`: a value that looks like a flag but is a number belongs to its option (parseArgs
  // would call it ambiguous); the option's own check then says what range it takes
  const args = [...argv];
  for (let i = 0; i + 1 < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : null;
    if (name && Object.hasOwn(options, name) && options[name].type === 'string' && /^-\d|^-\.\d/.test(args[i + 1])) {
      args.splice(i, 2, `--${name}=${args[i + 1]}`);
    }
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs's first sentence names the problem ("Unknown option '--x'"); its advice about '--' does not apply here
    const first = (err as Error).message.split('\n')[0].split(/\.\s/)[0].replace(/\.$/, '');
    throw new CliError(`${first}; see '${commandOf(help)} --help'`);
  }
}

/** 'alexnet train' from a help text's first line ("usage: alexnet train <dir> ..."). */
function commandOf(help: string): string {
  return /^usage: (alexnet(?: [a-z][a-z-]*)*)/.exec(help)?.[1] ?? 'alexnet';
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

export function numberOption(value: string | undefined, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${name} must be a number from ${min} to ${max}, got '${value}'`);
  return n;
}

/** `alexnet <group> <sub> ...`: runs the named subcommand, or prints the group's help. */
export async function runSubcommand(group: string, argv: string[], subs: Record<string, (argv: string[]) => number | Promise<number>>, help: string): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(help.trimEnd() + '\n');
    return sub === undefined ? 2 : 0;
  }
  const fn = Object.hasOwn(subs, sub) ? subs[sub] : undefined;
  if (!fn) throw new CliError(`unknown ${group} command '${sub}'; use ${Object.keys(subs).join(', ')}`);
  return await fn(rest);
}
