import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { reportError } from './errors.js';
import { normalizeArgv } from './argv.js';
import { registerInit } from './commands/init.js';
import { registerFs } from './commands/fs.js';
import { registerKv } from './commands/kv.js';
import { registerTimeline } from './commands/timeline.js';
import { registerMigrate } from './commands/migrate.js';
import { registerMount } from './commands/mount.js';
import { registerExec } from './commands/exec.js';
import { registerRun } from './commands/run.js';
import { registerPs } from './commands/ps.js';
import { registerDiff } from './commands/diff.js';
import { registerCommit } from './commands/commit.js';
import { registerRecord } from './commands/record.js';
import { registerServe } from './commands/serve.js';
import { registerSync } from './commands/sync.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('agentfs')
    .description('A filesystem and audit trail for AI agents, in one SQLite file')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [
    registerInit,
    registerFs,
    registerKv,
    registerMount,
    registerExec,
    registerRun,
    registerPs,
    registerDiff,
    registerCommit,
    registerTimeline,
    registerRecord,
    registerServe,
    registerSync,
    registerMigrate,
  ]) {
    register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(normalizeArgv(argv));
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
