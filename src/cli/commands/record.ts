import type { Command } from 'commander';
import { startCommandCall } from '../../core/tools/index.js';
import { AGENT_ARG, openAgentArg } from '../agent-arg.js';
import { UserError } from '../errors.js';
import { onOutputClosed } from '../output.js';
import { parseIntOption } from '../options.js';
import { spawnTethered } from '../tether.js';
import { exitStatus, passToCommand, STOP_SIGNALS, catchSignals, exitWithSignalsCaught, type SignalCatcher } from '../../platform/signals.js';

interface RecordOptions {
  name?: string;
  tail: string;
}

/**
 * Runs a command as one tool call of the agent. Its output is passed through byte for byte (and
 * its tail kept); its exit status becomes ours. The call is announced to other processes while it
 * runs, so a mount of the agent journals the command's file changes under the call's id.
 */
export function recordCommand(idArg: string, argv: string[], opts: { name?: string; tailBytes?: number }): Promise<number> {
  // signals meant for the command (Ctrl-C, kill of the recorder) go to it; caught from the start
  // and kept to the process's end (it ends with the command's status), so that none ends us
  // before the call is finished
  return recordCaught(idArg, argv, opts, catchSignals(STOP_SIGNALS, { pass: passToCommand() }));
}

async function recordCaught(idArg: string, argv: string[], opts: { name?: string; tailBytes?: number }, signals: SignalCatcher): Promise<number> {
  // no program name, no command (as a shell says); nor a tool name to record it under
  if (argv[0] === '') throw new UserError("cannot run '': ENOENT", 'command-not-found');
  const agent = openAgentArg(idArg, { journal: false });
  try {
    const call = startCommandCall(agent.tools, argv, { name: opts.name, cwd: process.cwd(), tailBytes: opts.tailBytes });
    // a signal before the command started: it does not, and the call ends as killed by it
    if (signals.early) {
      call.finish({ code: null, signal: signals.early });
      return exitStatus({ code: null, signal: signals.early });
    }
    // tethered: if we are killed (even SIGKILL), the kernel kills the command too
    const { child, exit: exited } = spawnTethered(argv, { ...process.env, AGENTFS_TOOL_CALL_ID: String(call.id) });
    signals.forwardTo(child);
    // our reader went away: the command meets the closed pipe as it would have without us
    // (SIGPIPE, then its end of our pipe closes), and we still finish the call with its status
    const closed = { stdout: false, stderr: false };
    const restoreOutput = onOutputClosed((stream) => {
      if (closed[stream]) return;
      closed[stream] = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGPIPE');
      child[stream]?.destroy();
    });
    child.stdout!.on('data', (d: Buffer) => {
      call.stdout(d);
      if (!closed.stdout) process.stdout.write(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      call.stderr(d);
      if (!closed.stderr) process.stderr.write(d);
    });
    const exit = await exited;
    restoreOutput();
    if (exit.error) {
      call.finish({ code: null, spawnError: exit.error });
      // the POSIX shell's statuses, as `agentfs run` has them: 127 not found, 126 found but not runnable
      const code = exit.error.code;
      throw new UserError(`cannot run ${argv[0]}: ${code ?? exit.error.message}`, code === 'ENOENT' ? 'command-not-found' : 'not-executable');
    }
    call.finish({ code: exit.code, signal: exit.signal });
    return exitStatus(exit);
  } finally {
    agent.close();
  }
}

export function registerRecord(program: Command): void {
  program
    .command('record')
    .description('Run a command as one tool call of the agent (name, argv, cwd, exit status, duration, output tail)')
    .argument('<ID>', AGENT_ARG)
    .argument('<CMD...>', 'the command and its arguments (after --)')
    .option('--name <NAME>', 'tool name to record (default: the program name)')
    .option('--tail <BYTES>', 'bytes of stdout and of stderr kept in the record', '4096')
    .action(async (id: string, argv: string[], opts: RecordOptions) => {
      const tail = parseIntOption('--tail', opts.tail, { max: 1 << 24 });
      if (!argv.length) throw new UserError('record needs a command: agentfs record ID -- CMD [ARGS...]');
      exitWithSignalsCaught(await recordCommand(id, argv, { name: opts.name, tailBytes: tail }));
    });
}
