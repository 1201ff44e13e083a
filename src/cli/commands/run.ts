import type { Command } from 'commander';
import { RunError, runSandbox } from '../../sandbox/index.js';
import { compileForServing } from '../jit.js';
import { runPtraceSandbox } from '../../sandbox/ptrace/run.js';
import { catchSandboxSignals } from '../../sandbox/child-signals.js';
import { exitWithSignalsCaught } from '../../platform/signals.js';
import { reportServeError, UserError } from '../errors.js';

interface RunOpts {
  session?: string;
  allow: string[];
  defaultAllows: boolean;
  experimentalSandbox?: boolean;
  strace?: boolean;
  straceFile?: string;
}

export function registerRun(program: Command): void {
  program.enablePositionalOptions();
  program
    .command('run')
    .description(
      'Run a command in a sandbox: the current directory becomes a copy-on-write overlay kept in a session database, the rest of the system is read-only except allowed directories',
    )
    .option('--session <ID>', 'session id: resume its changes (default: a new session)')
    .option('--allow <DIR>', 'also allow writes to DIR (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--no-default-allows', 'do not allow /tmp, ~/.cache, ~/.npm, ~/.config, ~/.local and the agent tools\u2019 directories')
    .option('--experimental-sandbox', 'use the ptrace sandbox (Linux x86_64): no FUSE or namespaces; only the working directory is isolated')
    .option('--strace', 'with --experimental-sandbox: show intercepted syscalls on stderr')
    .option('--strace-file <PATH>', 'with --experimental-sandbox: append intercepted syscalls to PATH')
    .argument('<CMD...>', 'command and its arguments')
    .passThroughOptions()
    .action(async (argv: string[], opts: RunOpts) => {
      // caught from the start, and kept to the process's end unless we die of the command's signal
      const signals = catchSandboxSignals();
      let outcome;
      try {
        if (opts.experimentalSandbox) {
          if (opts.strace && opts.straceFile) throw new RunError('--strace and --strace-file exclude each other (the calls go to stderr or to the file)');
          if (opts.allow.length) throw new RunError('--allow has no meaning with --experimental-sandbox (it does not make the rest of the system read-only)');
          outcome = await runPtraceSandbox({ session: opts.session, argv, strace: opts.strace, straceFile: opts.straceFile, signals });
        } else {
          if (opts.strace || opts.straceFile) throw new RunError('--strace and --strace-file need --experimental-sandbox');
          compileForServing();
          outcome = await runSandbox({
            session: opts.session,
            allow: opts.allow,
            defaultAllows: opts.defaultAllows,
            argv,
            signals,
            onError: (e, database) => reportServeError('run', e, database),
          });
        }
      } catch (e) {
        if (e instanceof RunError) throw new UserError(e.message);
        throw e;
      }
      if (outcome.signal) {
        // die the way the command did, so a calling shell sees the same thing
        signals.stop();
        process.kill(process.pid, outcome.signal);
        await new Promise((r) => setTimeout(r, 1000));
      }
      exitWithSignalsCaught(outcome.code ?? 1);
    });
}
