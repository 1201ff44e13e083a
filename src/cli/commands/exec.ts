import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { resolveAgent } from '../../sandbox/resolve.js';
import { AGENT_ARG } from '../agent-arg.js';
import { mountAgent, MountError } from '../../fuse/agent-mount.js';
import { compileForServing } from '../jit.js';
import { checkFuse } from '../../fuse/binding.js';
import { reportServeError, UserError } from '../errors.js';
import { exitStatus, passToCommand, STOP_SIGNALS, untilExit, catchSignals, exitWithSignalsCaught, type SignalCatcher } from '../../platform/signals.js';

export interface ExecOptions {
  /** report every file as owned by this uid / gid */
  uid?: number;
  gid?: number;
}

export function registerExec(program: Command): void {
  // Options after the command name belong to the command (`agentfs exec ID ls -la`).
  program.enablePositionalOptions();
  program
    .command('exec')
    .description('Mount an agent on a temporary directory, run a command there, unmount, exit with its status')
    .argument('<ID_OR_PATH>', AGENT_ARG)
    .argument('<CMD...>', 'command and its arguments (run with the mount as working directory)')
    .passThroughOptions()
    .action(async (id: string, argv: string[]) => {
      // `exec ID -- CMD ...` as with record: the `--` after the ID reaches us, passed through
      exitWithSignalsCaught(await execInAgent(id, argv[0] === '--' ? argv.slice(1) : argv));
    });
}

/**
 * Mounts the agent on a fresh temporary directory, runs argv there (stdio inherited), then
 * unmounts and removes the directory. Returns the command's exit status (128 + signal number
 * when it was killed by a signal).
 */
export function execInAgent(dbPathOrId: string, argv: string[], options: ExecOptions = {}): Promise<number> {
  // caught from the start, and kept to the process's end (it ends with the command's status): a
  // signal while mounting or unmounting must not end us midway (it left a dead mount); one
  // before the command starts means it does not
  return execCaught(dbPathOrId, argv, options, catchSignals(STOP_SIGNALS, { pass: passToCommand() }));
}

async function execCaught(dbPathOrId: string, argv: string[], options: ExecOptions, caught: SignalCatcher): Promise<number> {
  if (argv.length === 0) throw new UserError('missing command to run');
  const { target, database } = resolveAgent(dbPathOrId);
  checkFuse();
  // a command that is nowhere on PATH is reported as ours, before anything is mounted
  // (the shell that runs it would say `agentfs-exec: 1: exec: x: not found`)
  if (!argv[0]!.includes('/') && !onPath(argv[0]!)) throw new UserError(`${argv[0] || "''"}: command not found`, 'command-not-found');
  const mountpoint = mkdtempSync(join(tmpdir(), 'agentfs-exec-'));
  let mount;
  compileForServing();
  try {
    mount = await mountAgent(target, mountpoint, {
      uid: options.uid,
      gid: options.gid,
      // a crash of this process must not leave the temporary mount behind
      autoUnmount: true,
      onError: (e) => reportServeError('exec', e, database),
    });
  } catch (e) {
    rmdirSync(mountpoint);
    if (e instanceof MountError) throw new UserError(e.message);
    throw e;
  }
  const { agent, server } = mount;
  try {
    return await runIn(mountpoint, argv, caught);
  } finally {
    // something the command left behind may still use the mount: then it is detached, and the
    // session ended by us if it does not end by itself
    await server.stop(2000);
    agent.close();
    try {
      rmdirSync(mountpoint);
    } catch {
      /* still busy: leave the empty directory */
    }
  }
}

async function runIn(cwd: string, argv: string[], caught: SignalCatcher): Promise<number> {
  const cmd = argv[0]!;
  // Never spawn with cwd on the mount: the child would chdir before exec, while this process
  // (the server) waits for that exec, and nobody would answer the chdir. A shell changes
  // directory after exec instead, then becomes the command.
  // A path that cannot run is reported in our words, with the status a shell gives (sh's own
  // message would be `agentfs-exec: 1: exec: ...`).
  const script = [
    'cd "$1" || exit 126; shift',
    'case $1 in */*)',
    '  if [ -d "$1" ]; then printf "agentfs: %s: Is a directory\\n" "$1" >&2; exit 126; fi',
    '  if [ ! -e "$1" ]; then printf "agentfs: %s: No such file or directory\\n" "$1" >&2; exit 127; fi',
    '  if [ ! -x "$1" ]; then printf "agentfs: %s: Permission denied\\n" "$1" >&2; exit 126; fi;;',
    'esac',
    'exec "$@"',
  ].join('\n');
  const start = (): ChildProcess => spawn('/bin/sh', ['-c', script, 'agentfs-exec', cwd, ...argv], { stdio: 'inherit' });
  try {
    // Like a shell: the terminal's Ctrl-C reaches the child (same process group); we wait for
    // it, and pass on what is sent to us alone (as record and run do).
    return exitStatus(await untilExit(start, caught));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${cmd}: command not found`, 'command-not-found');
    throw new UserError(`${cmd}: ${(e as Error).message}`, 'not-executable');
  }
}

function onPath(cmd: string): boolean {
  // an executable regular file, as a shell looks for one ('' or a directory on PATH is none)
  if (cmd === '') return false;
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      const file = join(dir || '.', cmd);
      accessSync(file, fsConstants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
