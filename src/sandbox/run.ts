import { AgentfsError, type ErrorCode } from '../errors.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { customAlphabet } from 'nanoid';
import { Agent, META } from '../core/agent.js';
import { recordRunEnd, recordRunStart } from './run-call.js';
import { Store, validateId } from '../store/index.js';
import { checkFuse, FuseServer } from '../fuse/index.js';
import { groupCommitMsFromEnv, groupCommitOf, outsideChanges } from '../fuse/agent-mount.js';
import { checkpointInBackground } from '../platform/wal-checkpoints.js';
import { withSandboxSignals } from './child-signals.js';
import { untilExit, type SignalCatcher } from '../platform/signals.js';
import { allowProblem, defaultAllows, resolveAllows } from './allow.js';
import { checkNamespaces, launcherArgs, launcherPath } from './launcher.js';
import {
  addRun, agentfsHome, claimServer, sessionsDir, liveRuns, liveServer, loadSession, releaseServer, removeRun, removeSession, saveSession, type SessionRecord,
} from './sessions.js';

export interface RunOptions {
  session?: string;
  allow?: string[];
  defaultAllows?: boolean;
  argv: string[];
  /**
   * The signals, caught by the caller from its start (catchSandboxSignals) and left to it to
   * release; by default they are caught here and released at the end.
   */
  signals?: SignalCatcher;
  /** where the session line goes (default: stderr) */
  log?: (line: string) => void;
  /** an error the mount's server met in a request and served on after (default: stderr, with its stack) */
  onError?: (error: unknown, database: string) => void;
}

export interface RunOutcome {
  session: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A run that cannot start as asked (wrong directory for the session, nesting, no command). */
export class RunError extends AgentfsError {
  constructor(message: string, code: ErrorCode = 'usage') {
    super(code, message);
    this.name = 'RunError';
  }
}

const newId = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 10);

/**
 * Finds or creates the session for the current directory. Session databases live under
 * $AGENTFS_HOME/sessions, outside the base (the base stays untouched, not even a new entry);
 * when that directory is inside the base anyway (run from $HOME), the overlay hides it.
 */
export function prepareSession(id: string | undefined, cwd: string): SessionRecord {
  const sessionId = id ?? `run-${newId()}`;
  validateId(sessionId);
  const existing = loadSession(sessionId);
  if (existing) {
    if (existing.base !== cwd) {
      throw new RunError(`session ${sessionId} is an overlay of ${existing.base}; run it from there (this is ${cwd})`);
    }
    if (existsSync(existing.database)) return existing;
  }
  const database = join(sessionsDir(), `${sessionId}.db`);
  mkdirSync(sessionsDir(), { recursive: true, mode: 0o700 });
  const hidden = isUnder(sessionsDir(), cwd) ? [`/${relative(cwd, agentfsHome())}`] : [];
  const store = Store.open({ path: database }, { create: true });
  try {
    const base = store.getMeta(META.base);
    if (base === undefined) {
      store.setMeta(META.base, cwd);
      if (hidden.length) store.setMeta(META.hide, JSON.stringify(hidden));
      store.setMeta(META.createdAt, String(Math.floor(Date.now() / 1000)));
    } else if (base !== cwd) {
      throw new RunError(`${database} is an overlay of ${base}, not of ${cwd}`);
    }
  } finally {
    store.close();
  }
  const rec: SessionRecord = { id: sessionId, database, base: cwd, createdAt: existing?.createdAt ?? new Date().toISOString() };
  saveSession(rec);
  return rec;
}

/** How long the host's own edits to the directory may take to show inside a run, by default (seconds). */
const HOST_CACHE_S = 30;

/** AGENTFS_RUN_HOST_CACHE_S, or HOST_CACHE_S: how long the kernel may keep the host directory's names, attributes and listings. */
function hostCacheSeconds(): number {
  const v = process.env.AGENTFS_RUN_HOST_CACHE_S;
  if (v === undefined || v === '') return HOST_CACHE_S;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0) || n > 86400) {
    throw new RunError(`AGENTFS_RUN_HOST_CACHE_S must be a number of seconds above 0 and at most 86400, not '${v}'`);
  }
  return n;
}

/**
 * `agentfs run`: the current directory becomes a copy-on-write overlay (base = cwd, changes in
 * the session database), served over FUSE by this process, and the command runs in new user,
 * mount and PID namespaces (native/sandbox/launcher.c) with the overlay bound over cwd, the rest
 * of the filesystem read-only except the allowed paths, and the session files hidden.
 * A second run of the same session joins the live overlay instead of mounting another.
 */
export function runSandbox(options: RunOptions): Promise<RunOutcome> {
  // caught from the start: a signal during the set-up or the clean-up must not end us midway
  return options.signals ? runCaught(options, options.signals) : withSandboxSignals((caught) => runCaught(options, caught));
}

async function runCaught(options: RunOptions, caught: SignalCatcher): Promise<RunOutcome> {
  if (!options.argv.length) throw new RunError('missing command to run');
  if (process.env.AGENTFS_SANDBOX) {
    throw new RunError(`already inside an agentfs sandbox (session ${process.env.AGENTFS_SESSION ?? '?'}); sandboxes do not nest`);
  }
  // before anything is created or mounted
  for (const p of options.allow ?? []) {
    const problem = allowProblem(p);
    if (problem) throw new RunError(problem);
  }
  const hostCacheS = hostCacheSeconds();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const launcher = launcherPath();
  // what this machine lacks is reported before anything is created
  checkNamespaces(launcher);
  checkFuse();
  const cwd = realpathSync(process.cwd());
  const existed = options.session !== undefined && loadSession(options.session) !== undefined;
  const session = prepareSession(options.session, cwd);
  const home = agentfsHome();
  mkdirSync(join(home, 'mnt'), { recursive: true, mode: 0o700 });

  let server: FuseServer | undefined;
  let agent: Agent | undefined;
  let mountpoint: string;
  const joined = liveServer(session.id);
  if (joined) {
    mountpoint = joined.mountpoint;
  } else {
    mountpoint = mkdtempSync(join(home, 'mnt', `${session.id}-`));
    if (!claimServer(session.id, { pid: process.pid, mountpoint, startedAt: new Date().toISOString() })) {
      rmdirSync(mountpoint);
      // another run of the session is starting: wait for its mount
      let other = liveServer(session.id);
      for (let i = 0; !other && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        other = liveServer(session.id);
      }
      if (!other) throw new RunError(`session ${session.id} is being started by another run that did not finish mounting; try again`, 'busy');
      mountpoint = other.mountpoint;
    } else {
      try {
        // the overlay is bound over the base only inside the sandbox's mount namespace
        agent = Agent.open({ path: session.database }, { baseDirect: true });
        const a = agent;
        // files open in the sandbox stay readable when the CLI removes them from the session
        a.holdOpenFiles();
        const checkpoints = checkpointInBackground(a.store, (e) => process.stderr.write(`agentfs run: ${(e as Error)?.message ?? String(e)}\n`));
        server = await FuseServer.mount(a.fs, mountpoint, {
          groupCommit: groupCommitOf(a, checkpoints),
          groupCommitMs: groupCommitMsFromEnv(),
          autoUnmount: true,
          fsname: `agentfs:${session.id}`,
          // Runs of a session share this one mount; the CLI and the SDK may write the session's
          // database meanwhile (watched: the kernel forgets what it cached when they do). Only
          // edits the host makes to the base directory meanwhile show up late, by this much.
          timeouts: { entry: hostCacheS, attr: hostCacheS, negative: Math.min(5, hostCacheS) },
          cacheReaddir: hostCacheS,
          changeCounter: outsideChanges(a),
          onError: options.onError
            ? (e) => options.onError!(e, session.database)
            : (e) => process.stderr.write(`agentfs run: internal error: ${(e as Error)?.stack ?? String(e)}\n`),
        });
      } catch (e) {
        agent?.close();
        releaseServer(session.id);
        rmdirSync(mountpoint);
        if (!existed) removeSession(session); // a run that never started leaves no session
        throw e;
      }
    }
  }
  addRun({ pid: process.pid, session: session.id, command: options.argv, cwd, startedAt: new Date().toISOString() });

  // The run is one tool call of the session; a run that joined another's server keeps its own
  // connection to the database for the call's lifetime.
  const recorder = agent ?? Agent.open({ path: session.database });
  const call = recordRunStart(recorder, options.argv, cwd);

  log(`agentfs: session ${session.id}: changes are kept in ${session.database}; see them with \`agentfs diff ${session.id}\``);

  const writable = resolveAllows([...(options.defaultAllows === false ? [] : defaultAllows()), ...(options.allow ?? [])]);
  const hide = existsSync(home) && !isUnder(home, cwd) ? [realpathSync(home)] : [];
  const args = launcherArgs({ binds: [[mountpoint, cwd]], writable: [cwd, ...writable], hide, workdir: cwd, argv: options.argv });

  let outcome: { code: number | null; signal: NodeJS.Signals | null };
  try {
    outcome = await launch(launcher, args, caught, {
      ...process.env,
      AGENTFS: '1',
      AGENTFS_SANDBOX: 'linux-namespace',
      AGENTFS_SESSION: session.id,
    });
  } finally {
    removeRun(session.id);
  }

  recordRunEnd(call, outcome);
  if (!agent) recorder.close();

  if (server && agent) {
    await keepServingWhileJoined(session.id);
    try {
      await server.unmount({ lazy: true, graceMs: 2000 });
    } catch {
      server.abandon();
    }
    releaseServer(session.id);
    agent.close();
    try {
      rmdirSync(mountpoint);
    } catch {
      /* still detaching; the directory is empty and harmless */
    }
  }
  return { session: session.id, ...outcome };
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Runs the launcher with the terminal; passes on signals sent to this process. */
function launch(launcher: string, args: string[], caught: SignalCatcher, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return untilExit(() => spawn(launcher, args, { stdio: 'inherit', env }), caught);
}

/** The first run of a session serves its overlay until every run that joined it is done. */
async function keepServingWhileJoined(id: string): Promise<void> {
  for (;;) {
    const others = liveRuns(id).filter((r) => r.pid !== process.pid);
    if (!others.length) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
