import type { Command } from 'commander';
import { resolve } from 'node:path';
import { resolveAgent } from '../../sandbox/resolve.js';
import type { AgentTarget } from '../../store/index.js';
import { isAgentfsError } from '../../errors.js';
import { AGENT_ARG } from '../agent-arg.js';
import { Agent } from '../../core/agent.js';
import { mountAgent, MountError, prepareMountpoint } from '../../fuse/agent-mount.js';
import { compileForServing } from '../jit.js';
import {
  agentfsMountAt,
  listMounts,
  logFile,
  readRecord,
  recoverStale,
  removeRecord,
  runtimeDir,
  writeRecord,
} from '../../fuse/mounts.js';
import type { FuseServer } from '../../fuse/server.js';
import { unmountPath } from '../../fuse/unmount.js';
import { checkFuse } from '../../fuse/binding.js';
import { hasExited } from '../../core/process-alive.js';
import { reportServeError, UserError } from '../errors.js';
import { parseIntOption } from '../options.js';
import { quoteName } from '../quote.js';
import { removeEmptyLog, startDaemon, tellParent } from '../daemon.js';
import { exitWithSignalsCaught, onStopSignal } from '../../platform/signals.js';

interface MountOptions {
  foreground?: boolean;
  autoUnmount?: boolean;
  allowRoot?: boolean;
  allowOther?: boolean;
  uid?: string;
  gid?: string;
  /** commander's negation of --no-journal: false when the flag is given */
  journal?: boolean;
}

function parseId(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  return parseIntOption(flag, value, { max: 0xfffffffe });
}

export function registerMount(program: Command): void {
  program
    .command('mount')
    .description('Mount an agent filesystem as a directory (FUSE); with no arguments, list active mounts')
    .argument('[ID_OR_PATH]', AGENT_ARG)
    .argument('[MOUNTPOINT]', 'existing directory to mount on')
    .option('-f, --foreground', 'stay attached: serve until unmounted or interrupted')
    .option('-a, --auto-unmount', 'let the kernel unmount by itself if the server dies')
    .option('--allow-root', 'let root access the mount too')
    .option('--allow-other', 'let every user access the mount (permissions still apply)')
    .option('--uid <N>', 'report every file as owned by this user id')
    .option('--gid <N>', 'report every file as owned by this group id')
    .option('--no-journal', 'do not record file operations in the journal while mounted')
    .action(async (idArg: string | undefined, mountArg: string | undefined, opts: MountOptions) => {
      if (idArg === undefined) {
        printMounts();
        return;
      }
      if (mountArg === undefined) throw new UserError('missing MOUNTPOINT (usage: agentfs mount ID_OR_PATH MOUNTPOINT)');
      if (opts.allowRoot && opts.allowOther) throw new UserError('--allow-root and --allow-other exclude each other');
      const uid = parseId(opts.uid, '--uid');
      const gid = parseId(opts.gid, '--gid');
      // before anything is created: no log, no record, no half-made mount
      checkFuse();
      const { target, database } = resolveAgent(idArg);
      const mountpoint = resolve(mountArg);
      if (opts.foreground) {
        await serveForeground(target, database, mountpoint, { ...opts, uid, gid });
        return;
      }
      // Validate here, so mistakes are reported by this command and not lost in a log.
      Agent.open(target).close();
      try {
        await prepareMountpoint(mountpoint);
      } catch (e) {
        if (e instanceof MountError) throw new UserError(e.message);
        throw e;
      }
      const pid = await startBackground(database, mountpoint, opts);
      console.log(`Mounted ${quoteName(database)} at ${quoteName(mountpoint)} (pid ${pid})`);
    });

  program
    .command('unmount')
    .alias('umount')
    .description('Unmount an agentfs mount and wait for its server to finish')
    .argument('<MOUNTPOINT>', 'the mounted directory')
    .option('-z, --lazy', 'detach now even if busy; the server ends once nothing uses the mount')
    .action(async (mountArg: string, opts: { lazy?: boolean }) => {
      const mountpoint = resolve(mountArg);
      const rec = readRecord(mountpoint);
      if (!agentfsMountAt(mountpoint)) {
        if (rec) removeRecord(mountpoint, rec.pid);
        throw new UserError(`${mountpoint} is not an agentfs mount`);
      }
      if ((await recoverStale(mountpoint)) === 'recovered') {
        console.log(`Unmounted ${quoteName(mountpoint)} (its server had died)`);
        return;
      }
      try {
        await unmountPath(mountpoint, opts.lazy ?? false);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EBUSY') {
          throw new UserError(`${mountpoint} is busy (a process has files open or its working directory there); close them or use --lazy`);
        }
        throw new UserError((e as Error).message);
      }
      if (rec && !opts.lazy) await waitForExit(rec.pid, 15_000);
      console.log(`Unmounted ${quoteName(mountpoint)}`);
    });
}

function printMounts(): void {
  const mounts = listMounts();
  if (mounts.length === 0) {
    console.log('No agentfs mounts.');
    return;
  }
  const rows = mounts.map((m) => [quoteName(m.mountpoint), m.database === undefined ? '?' : quoteName(m.database), m.stale ? 'dead (stale mount)' : String(m.pid ?? '?')]);
  const head = ['MOUNTPOINT', 'DATABASE', 'PID'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  '));
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!hasExited(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

/** Starts `agentfs mount --foreground` in the background and waits until it reports the mount ready. */
function startBackground(database: string, mountpoint: string, opts: MountOptions): Promise<number> {
  const args = ['mount', database, mountpoint, '--foreground'];
  if (opts.autoUnmount) args.push('--auto-unmount');
  if (opts.allowRoot) args.push('--allow-root');
  if (opts.allowOther) args.push('--allow-other');
  if (opts.uid !== undefined) args.push('--uid', opts.uid);
  if (opts.gid !== undefined) args.push('--gid', opts.gid);
  if (opts.journal === false) args.push('--no-journal');
  return startDaemon(args, logFile(mountpoint));
}

/** Serves the mount in this process until it is unmounted or a signal arrives. */
async function serveForeground(
  target: AgentTarget,
  database: string,
  mountpoint: string,
  opts: Omit<MountOptions, 'uid' | 'gid'> & { uid?: number; gid?: number },
): Promise<void> {
  // Caught from just before the kernel mount is made (the database open, which may wait for
  // another process's lock, can still be stopped by the signal's own action): the kernel lists the
  // mount before mountAgent returns, and a signal then (Ctrl-C at once) must unmount as one after
  // does, not end this process and leave the mount stale. What came early is acted on once the
  // server runs. (The mount itself is one synchronous call right after catchSignals: no handler
  // runs between the two.) Caught to the end: a signal while the unmounted server closes the
  // database and its record, or while Node tears down after a natural exit, would end it there.
  let stop: ((signal: NodeJS.Signals) => void) | undefined;
  let early: NodeJS.Signals | undefined;
  let stopSignals = (): void => {};
  const catchSignals = (): void => {
    stopSignals = onStopSignal((signal) => (stop ? stop(signal) : (early = signal)), { again: 'ignore' });
  };
  let mount;
  compileForServing();
  try {
    mount = await mountAgent(target, mountpoint, {
      beforeMount: catchSignals,
      uid: opts.uid,
      gid: opts.gid,
      allowOther: opts.allowOther,
      allowRoot: opts.allowRoot,
      autoUnmount: opts.autoUnmount,
      journal: opts.journal === false ? false : undefined,
      onError: (e) => reportServeError('mount', e, database),
    });
  } catch (e) {
    stopSignals();
    const message = e instanceof MountError ? e.message : (e as Error).message;
    tellParent({ error: message });
    throw isAgentfsError(e) ? e : new UserError(message); // keeps its code (not-found, foreign...)
  }
  const { agent, server } = mount;
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    // the session is over (or this process exits now): the kernel holds none of its files
    agent.forgetOpenFiles();
    agent.close();
    try {
      removeRecord(mountpoint);
      removeEmptyLog(logFile(mountpoint));
    } catch {
      // a runtime directory that cannot be used (the record was never written there): nothing to remove
    }
  };
  try {
    writeRecord({ mountpoint, database, pid: process.pid, startedAt: new Date().toISOString(), log: logFile(mountpoint) });
  } catch (e) {
    // unrecorded, no `unmount` or `mount --list` would find it: the mount does not stay (a full
    // or read-only runtime directory; the log there may be empty, so the reason goes to the parent)
    await server.stop(5000).catch(() => undefined);
    cleanup(); // and what the failed write left of the record
    const message = `cannot record the mount in ${runtimeDir()}: ${(e as Error).message}`;
    tellParent({ error: message });
    throw new UserError(message);
  }
  stop = stopper(server, cleanup);
  tellParent({ ok: true });
  if (early) stop(early);
  try {
    await server.closed;
  } finally {
    cleanup();
  }
  exitWithSignalsCaught(0);
}

/**
 * SIGINT/SIGTERM/SIGHUP unmount cleanly, lazily if the mount is busy; further signals are
 * ignored meanwhile. Files still open on a lazily detached mount must not keep the server
 * forever: after a grace period it closes the database and exits, which aborts the connection
 * (remaining users get errors, not hangs).
 */
function stopper(server: FuseServer, cleanup: () => void): (signal: NodeJS.Signals) => void {
  return (signal) =>
    void server.stop(5000).then((ended) => {
      if (ended) return;
      console.error(`agentfs mount: ${signal}: the mount was still in use after 5 s; exiting`);
      cleanup();
      process.exit(0);
    });
}
