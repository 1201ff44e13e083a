import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { reportError } from './errors.js';
import { checkArgvEncoding, normalizeArgv } from './argv.js';
import { installPipeHandling } from './output.js';
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

type Register = (program: Command) => void;

/**
 * Command modules in help order, loaded on demand: a command pulls in only its own layers
 * (a `kv get` need not load FUSE, MCP or sync), which keeps start-up short.
 */
const MODULES: [names: string[], load: () => Promise<Register>][] = [
  [['init'], async () => (await import('./commands/init.js')).registerInit],
  [['fs'], async () => (await import('./commands/fs.js')).registerFs],
  [['kv'], async () => (await import('./commands/kv.js')).registerKv],
  [['mount', 'unmount', 'umount'], async () => (await import('./commands/mount.js')).registerMount],
  [['exec'], async () => (await import('./commands/exec.js')).registerExec],
  [['run'], async () => (await import('./commands/run.js')).registerRun],
  [['ps'], async () => (await import('./commands/ps.js')).registerPs],
  [['diff'], async () => (await import('./commands/diff.js')).registerDiff],
  [['commit', 'discard'], async () => (await import('./commands/commit.js')).registerCommit],
  [['timeline'], async () => (await import('./commands/timeline.js')).registerTimeline],
  [['record'], async () => (await import('./commands/record.js')).registerRecord],
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['ui'], async () => (await import('./commands/ui.js')).registerUi],
  [['sync'], async () => (await import('./commands/sync.js')).registerSync],
  [['migrate'], async () => (await import('./commands/migrate.js')).registerMigrate],
  [['completions', '__complete'], async () => (await import('./commands/completions.js')).registerCompletions],
];

/** The program with the command named in argv, or with every command (help, unknown names). */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  // `agentfs __complete SHELL -- WORDS...` completes WORDS: it needs the command they name
  const completing = argv[2] === '__complete';
  const args = completing ? argv.slice(argv.indexOf('--') + 1, -1) : argv.slice(2);
  const word = args.find((a) => !a.startsWith('-'));
  const named = MODULES.find(([names]) => word !== undefined && names.includes(word));
  const versionOnly = word === undefined && argv.some((a) => a === '-V' || a === '--version');
  const picked = named ? [named] : versionOnly ? [] : MODULES;
  if (completing && named && !named[0].includes('__complete')) picked.push(MODULES.find(([names]) => names.includes('__complete'))!);
  const registers = await Promise.all(picked.map(([, load]) => load()));
  return programWith(registers);
}

function programWith(registers: Register[]): Command {
  const program = new Command();
  program
    .name('agentfs')
    .description('A filesystem and audit trail for AI agents, in one SQLite file')
    .version(pkg.version)
    // A usage error is one line like every other error: `agentfs: unknown option '--x' (...)`.
    // Subcommands made with .command() inherit this configuration.
    .configureOutput({ outputError: (message, write) => write(usageLine(message)) })
    .exitOverride();
  for (const register of registers) register(program);
  return program;
}

/** commander's `error: ...` message as our one-line form. */
function usageLine(message: string): string {
  const text = message.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  return `agentfs: ${text} (run with --help for usage)\n`;
}

export async function main(argv: string[]): Promise<void> {
  installPipeHandling();
  const args = normalizeArgv(argv);
  try {
    if (argv === process.argv) checkArgvEncoding(argv);
    const program = await buildProgram(args);
    await program.parseAsync(args);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      process.exitCode = e.exitCode;
      return;
    }
    process.exitCode = reportError(e);
  }
}

await main(process.argv);
