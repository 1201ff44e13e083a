/**
 * Live agentfs mounts: the kernel's mount table (/proc/self/mountinfo) joined with a small
 * registry (one JSON file per mount under a runtime directory) that remembers which database
 * and which server process each mount belongs to. Also finds and clears stale mounts left
 * behind by a server that died.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountPath } from './unmount.js';
import { isAlive, processInfo } from '../core/process-alive.js';

export const FSTYPE = 'fuse.agentfs';

export interface MountRecord {
  mountpoint: string;
  database: string;
  pid: number;
  startedAt: string;
  log?: string;
  /** the server's argument list as /proc shows it (Linux), to tell it from a process that reused its pid */
  cmdline?: string[];
}

export interface KernelMount {
  mountpoint: string;
  fstype: string;
  source: string;
  /** "major:minor"; for FUSE the minor is the connection number in /sys/fs/fuse/connections */
  device: string;
}

/** Where mount records live: $XDG_RUNTIME_DIR/agentfs, /run/agentfs for root, else a per-user tmp dir. */
export function runtimeDir(): string {
  if (process.env.AGENTFS_RUNTIME_DIR) return process.env.AGENTFS_RUNTIME_DIR;
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, 'agentfs');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (uid === 0 && existsSync('/run')) return '/run/agentfs';
  return join(tmpdir(), `agentfs-${uid}`);
}

function recordFile(mountpoint: string): string {
  return join(runtimeDir(), `mount-${createHash('sha1').update(mountpoint).digest('hex').slice(0, 16)}.json`);
}

export function logFile(mountpoint: string): string {
  return recordFile(mountpoint).replace(/\.json$/, '.log');
}

export function writeRecord(rec: MountRecord): void {
  // the writer is the server: its own command line, as serverAlive will read it back
  if (rec.pid === process.pid && rec.cmdline === undefined) rec = { ...rec, cmdline: processInfo(process.pid)?.argv };
  mkdirSync(runtimeDir(), { recursive: true, mode: 0o700 });
  writeFileSync(recordFile(rec.mountpoint), JSON.stringify(rec));
}

export function removeRecord(mountpoint: string, pid = process.pid): void {
  const rec = readRecord(mountpoint);
  if (rec && rec.pid !== pid) return; // a newer server owns it now
  rmSync(recordFile(mountpoint), { force: true });
}

export function readRecord(mountpoint: string): MountRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(mountpoint), 'utf8')) as MountRecord;
  } catch {
    return undefined;
  }
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The kernel's mount table as this process sees it. */
export function kernelMounts(): KernelMount[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: KernelMount[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const r = right.split(' ');
    out.push({ mountpoint: unescapeMount(f[4] ?? ''), device: f[2] ?? '', fstype: r[0] ?? '', source: unescapeMount(r[1] ?? '') });
  }
  return out;
}

export function agentfsMountAt(mountpoint: string): KernelMount | undefined {
  // the last one wins when mounts are stacked
  return kernelMounts().filter((m) => m.mountpoint === mountpoint && m.fstype === FSTYPE).pop();
}

export interface LiveMount {
  mountpoint: string;
  database: string | undefined;
  pid: number | undefined;
  stale: boolean;
}

/**
 * True while the server a record names still runs: the pid exists, is not a zombie or dying of
 * SIGKILL, runs agentfs, and started before the record was written (not a reused pid).
 */
export function serverAlive(rec: MountRecord): boolean {
  const info = processInfo(rec.pid);
  if (!info) return process.platform === 'linux' ? false : isAlive(rec.pid);
  if (!info.running) return false;
  // the same program: its recorded command line (a CLI run as `node dist/cli/main.js` names no
  // agentfs anywhere, and its live mount was taken for a dead one and aborted by the next mount),
  // or for a record without one (an older server's), a command line naming agentfs
  const same = Array.isArray(rec.cmdline) ? sameList(info.argv, rec.cmdline) : info.argv.some((a) => /agentfs/.test(a));
  if (!same) return false;
  const written = Date.parse(rec.startedAt);
  // start times from /proc are in ticks (10 ms) and boot time in seconds: allow for that
  return Number.isNaN(written) || info.startMs <= written + 2000;
}

function sameList(a: readonly string[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Active agentfs mounts; records of servers that are gone are pruned. */
export function listMounts(): LiveMount[] {
  const mounted = kernelMounts().filter((m) => m.fstype === FSTYPE);
  const seen = new Set<string>();
  const out: LiveMount[] = [];
  for (const m of mounted) {
    if (seen.has(m.mountpoint)) continue;
    seen.add(m.mountpoint);
    const rec = readRecord(m.mountpoint);
    const alive = rec !== undefined && serverAlive(rec);
    out.push({ mountpoint: m.mountpoint, database: rec?.database, pid: alive ? rec.pid : undefined, stale: rec !== undefined && !alive });
  }
  // prune records whose mount or server is gone
  const dir = runtimeDir();
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith('mount-') && f.endsWith('.json'));
  } catch {
    /* no registry yet */
  }
  for (const f of files) {
    try {
      const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as MountRecord;
      if (!seen.has(rec.mountpoint) && !serverAlive(rec)) {
        rmSync(join(dir, f), { force: true });
        rmSync(join(dir, f.replace(/\.json$/, '.log')), { force: true });
      }
    } catch {
      rmSync(join(dir, f), { force: true });
    }
  }
  return out;
}

/** stat() from a worker thread with a deadline: a hung mount must not hang us. */
async function probe(path: string, timeoutMs: number): Promise<'ok' | 'enotconn' | 'timeout' | 'error'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const check = stat(path).then(
    () => 'ok' as const,
    (e: NodeJS.ErrnoException) => (e.code === 'ENOTCONN' ? ('enotconn' as const) : ('error' as const)),
  );
  try {
    return await Promise.race([check, deadline]);
  } finally {
    clearTimeout(timer);
    timer?.unref();
  }
}

/** Ends a FUSE connection in the kernel (requests fail with ENOTCONN instead of hanging). */
async function abortConnection(device: string): Promise<void> {
  const minor = device.split(':')[1];
  if (!minor) return;
  const file = `/sys/fs/fuse/connections/${minor}/abort`;
  try {
    await writeFile(file, '1');
  } catch {
    /* fusectl not mounted or not allowed: the lazy unmount below still detaches the mount */
  }
}

/**
 * If an agentfs mount sits on mountpoint and its server is gone (or the connection answers
 * ENOTCONN), detach it so a new mount can take its place. Returns what it found.
 */
export async function recoverStale(mountpoint: string): Promise<'none' | 'recovered' | 'live'> {
  const m = agentfsMountAt(mountpoint);
  if (!m) return 'none';
  const rec = readRecord(mountpoint);
  let stale = rec !== undefined && !serverAlive(rec);
  if (!stale) {
    const state = await probe(mountpoint, 2000);
    stale = state === 'enotconn' || (state === 'timeout' && (rec === undefined || !serverAlive(rec)));
  }
  if (!stale) return 'live';
  await abortConnection(m.device);
  try {
    await unmountPath(mountpoint, true);
  } catch {
    /* maybe already gone */
  }
  if (rec) rmSync(recordFile(mountpoint), { force: true });
  return 'recovered';
}
