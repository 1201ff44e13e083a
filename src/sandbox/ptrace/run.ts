/**
 * `agentfs run --experimental-sandbox`: the same contract as `run` (the working directory is a
 * copy-on-write view kept in the session database) without FUSE or namespaces. The session's
 * overlay is written out to a private shadow directory (shadow.ts), the command runs under the
 * ptrace supervisor (native/ptrace/supervisor.c), which points every path under the working
 * directory at the shadow, and the shadow's changes go back into the overlay when it ends.
 */
import { spawn } from 'node:child_process';
import { withSandboxSignals } from '../child-signals.js';
import { untilExit, type SignalCatcher } from '../../platform/signals.js';
import type { Duplex } from 'node:stream';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, realpathSync, renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Agent } from '../../core/agent.js';
import { recordRunEnd, recordRunStart } from '../run-call.js';
import { locateNativeTool } from '../../platform/native-tool.js';
import { RunError, prepareSession, type RunOutcome } from '../run.js';
import { addRun, agentfsHome, claimServer, liveRuns, liveServer, releaseServer, removeRun } from '../sessions.js';
import { fillRequest, materialize, removeTree, shadowParent, sweepShadows, writeBack } from './shadow.js';

export interface PtraceRunOptions {
  session?: string;
  argv: string[];
  /** as RunOptions.signals */
  signals?: SignalCatcher;
  /** print intercepted syscalls to stderr */
  strace?: boolean;
  /** ... or append them to this file */
  straceFile?: string;
  log?: (line: string) => void;
}

export function supervisorPath(): string {
  const found = locateNativeTool({ name: 'agentfs-ptrace', source: 'ptrace/supervisor.c' });
  if (found.path === null) throw new RunError(found.why);
  return found.path;
}

export function runPtraceSandbox(options: PtraceRunOptions): Promise<RunOutcome> {
  // caught from the start: a signal during the set-up or the write-back must not end us midway
  return options.signals ? runCaught(options, options.signals) : withSandboxSignals((caught) => runCaught(options, caught));
}

async function runCaught(options: PtraceRunOptions, caught: SignalCatcher): Promise<RunOutcome> {
  if (!options.argv.length) throw new RunError('missing command to run');
  if (process.env.AGENTFS_SANDBOX) {
    throw new RunError(`already inside an agentfs sandbox (session ${process.env.AGENTFS_SESSION ?? '?'}); sandboxes do not nest`);
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new RunError(`--experimental-sandbox needs Linux on x86_64 (this is ${process.platform}-${process.arch})`);
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const supervisor = supervisorPath();
  // the supervisor runs in the shadow: a relative --strace-file is the caller's
  const straceFile = options.straceFile === undefined ? undefined : resolve(options.straceFile);
  if (straceFile !== undefined) {
    try {
      closeSync(openSync(straceFile, 'a'));
    } catch (e) {
      throw new RunError(`--strace-file ${options.straceFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const cwd = realpathSync(process.cwd());
  const session = prepareSession(options.session, cwd);
  // the shadow is a private copy: two runs at once would each write back over the other
  // (the server record, held for the whole run, also keeps a plain `run` from starting alongside)
  const busy = () => new RunError(`session ${session.id} is in use by another run; --experimental-sandbox does not join a live session`);
  if (liveServer(session.id) || liveRuns(session.id).length) throw busy();
  if (!claimServer(session.id, { pid: process.pid, mountpoint: '', startedAt: new Date().toISOString() })) throw busy();
  let agent: Agent;
  try {
    agent = Agent.open({ path: session.database });
  } catch (e) {
    releaseServer(session.id);
    throw e;
  }
  let keepShadow = false;
  let shadow: string | undefined;
  try {
    const shadowRoot = shadowParent(agent.paths, agentfsHome());
    mkdirSync(shadowRoot, { recursive: true, mode: 0o700 });
    sweepShadows(shadowRoot);
    shadow = realpathSync(mkdtempSync(join(shadowRoot, `agentfs-shadow-${session.id}-${process.pid}-`)));
    const m = materialize(agent.paths, cwd, shadow);
    addRun({ pid: process.pid, session: session.id, command: options.argv, cwd, startedAt: new Date().toISOString() });
    const call = recordRunStart(agent, options.argv, cwd, { sandbox: 'ptrace' });
    log(`agentfs: session ${session.id}: changes are kept in ${session.database}; see them with \`agentfs diff ${session.id}\``);

    const args = ['--base', cwd, '--shadow', shadow, '--fill-fd', '3'];
    if (straceFile !== undefined) args.push('--strace-file', straceFile);
    else if (options.strace) args.push('--strace');
    args.push('--', ...options.argv);
    let outcome: { code: number | null; signal: NodeJS.Signals | null };
    try {
      const sh = shadow;
      const serve = (socket: Duplex) => serveFills(socket, (kind, path) => fillRequest(agent.paths, agent.fs, sh, m, kind, path));
      outcome = await launch(supervisor, args, shadow, serve, caught, {
        ...process.env,
        PWD: cwd,
        AGENTFS: '1',
        AGENTFS_SANDBOX: 'ptrace',
        AGENTFS_SESSION: session.id,
      });
    } finally {
      removeRun(session.id);
    }
    try {
      // one commit for the whole write-back (what was applied before a failure is kept)
      const batch = agent.store.beginBatch();
      try {
        writeBack(agent.paths, agent.fs, cwd, shadow, m);
      } finally {
        if (batch) agent.store.commitBatch();
      }
    } catch (e) {
      // out of the sweep's way (its name no longer says agentfs-shadow-)
      keepShadow = true;
      const kept = join(dirname(shadow), `agentfs-kept-${basename(shadow).slice('agentfs-shadow-'.length)}`);
      try {
        renameSync(shadow, kept);
        shadow = kept;
      } catch {
        /* say where it is */
      }
      throw new RunError(`could not keep the run's changes in ${session.database} (${(e as Error).message}); they are still in ${shadow} (files the command never opened are empty placeholders there)`);
    } finally {
      recordRunEnd(call, outcome);
    }
    return { session: session.id, ...outcome };
  } finally {
    agent.close();
    releaseServer(session.id);
    if (shadow && !keepShadow && existsSync(shadow)) removeTree(shadow);
  }
}

/** Runs the supervisor with the terminal, in the shadow copy of the working directory. */
function launch(
  cmd: string,
  args: string[],
  cwd: string,
  serve: (socket: Duplex) => void,
  caught: SignalCatcher,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return untilExit(() => {
    const child = spawn(cmd, args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env, cwd });
    serve(child.stdio[3] as Duplex);
    return child;
  }, caught);

}

/** Answers the supervisor's fill requests ("f HEXPATH" / "t HEXPATH"), one line each, with one newline each. */
function serveFills(socket: Duplex, handle: (kind: string, path: string) => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        // the path comes in hex (a name may hold a newline); the shadow's names are UTF-8 (Node made them)
        handle(line.slice(0, 1), Buffer.from(line.slice(2), 'hex').toString('utf8'));
      } catch (e) {
        process.stderr.write(`agentfs: --experimental-sandbox: cannot copy ${Buffer.from(line.slice(2), 'hex').toString('utf8')} into the sandbox: ${(e as Error).message}\n`);
      }
      socket.write('\n');
    }
  });
  socket.on('error', () => {
    /* the supervisor is gone; its exit is reported by launch */
  });
}
