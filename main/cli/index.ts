// bin/alexnet: the command line. Each command lives in its own module under ./commands and is
// loaded only when used, so `alexnet info` does not pay for the database and `library` does not
// pay for TensorFlow.
import { CliError, isUserError } from './errors';

type CommandModule = { run(argv: string[]): Promise<number | void> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  info: { summary: 'backend, parameter count and versions', load: () => import('./commands/info') },
  train: { summary: 'train or fine-tune AlexNet on <class>/<image> folders', load: () => import('./commands/train') },
  eval: { summary: 'top-1/top-5, per-class metrics and confusion matrix', load: () => import('./commands/eval') },
  classify: { summary: 'classify images with a trained model', load: () => import('./commands/classify') },
  weights: { summary: 'import or download the ImageNet weights', load: () => import('./commands/weights') },
  export: { summary: 'export a trained model as ONNX or TF.js', load: () => import('./commands/export') },
  library: { summary: 'import photos into the library, stats, export labels', load: () => import('./commands/library') },
  runs: { summary: 'list and show training runs recorded in the library', load: () => import('./commands/runs') },
  cluster: { summary: 'train a library on a cluster (PyTorch DDP job) and import the result', load: () => import('./commands/cluster') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: alexnet <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'alexnet <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) throw new CliError(`unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(', ')}`);
  const mod = await entry.load();
  const code = await mod.run(rest);
  return typeof code === 'number' ? code : 0;
}

// `alexnet classify ... | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isUserError(err)) {
      process.stderr.write(`alexnet: ${err.message}\n`);
      process.exitCode = err.exitCode ?? 1;
    } else {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`alexnet: internal error: ${message}\n`);
      if (process.env.ALEXNET_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
      else process.stderr.write('alexnet: set ALEXNET_DEBUG=1 to see where it happened\n');
      process.exitCode = 70;
    }
  },
);
