import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { run, runCli, tempDir, type CliResult } from './cli.js';

/** Mount helpers for FUSE tests: everything that touches a mount runs in a child process. */

export function isMounted(mountpoint: string): boolean {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === mountpoint && l.includes(' - fuse.agentfs '));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `agentfs mount DB MNT` in the background; returns the server pid. */
export async function mountBg(db: string, mountpoint: string, extra: string[] = [], cwd?: string, env?: NodeJS.ProcessEnv): Promise<number> {
  const r = await runCli(['mount', db, mountpoint, ...extra], { cwd, env: env && { ...process.env, ...env } });
  if (r.code !== 0) throw new Error(`mount failed: ${r.stderr}`);
  const m = /\(pid (\d+)\)/.exec(r.stdout);
  if (!m) throw new Error(`no pid in: ${r.stdout}`);
  return Number(m[1]);
}

/** `agentfs unmount`, which must succeed, then the cleanup by pid. */
export async function unmountOk(m: { mnt: string; pid: number }): Promise<void> {
  const r = await runCli(['unmount', m.mnt]);
  if (r.code !== 0) throw new Error(`unmount ${m.mnt} failed: ${r.stderr}`);
  await forceUnmount(m.mnt, m.pid);
}

/** Best-effort cleanup by mountpoint and pid (for afterAll/finally). */
export async function forceUnmount(mountpoint: string, pid?: number): Promise<void> {
  if (isMounted(mountpoint)) await runCli(['unmount', mountpoint], { timeoutMs: 20_000 }).catch(() => undefined);
  if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
  if (isMounted(mountpoint)) await run('fusermount3', ['-u', '-z', mountpoint]).catch(() => undefined);
}

/** Runs a shell script in a child process (cwd may be the mount). */
export function sh(script: string, cwd?: string, timeoutMs = 120_000): Promise<CliResult> {
  return run('/bin/sh', ['-c', script], { cwd, timeoutMs });
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (cond()) return true;
    } catch {
      // not yet: a state between two steps of another process (a name removed, then made again
      // in a later commit); an error that lasts is thrown by the last try below
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/**
 * Samples a process's private memory (RssAnon: heap, buffers, stacks) every 50 ms until stop(),
 * which returns the peak in kB. Not VmHWM: that also counts pages of the database file that
 * SQLite reads through its memory map, which are page cache the kernel drops when it needs to.
 */
export function trackPrivateRss(pid: number): { stop(): number } {
  let peak = 0;
  const sample = () => {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) peak = Math.max(peak, Number(m[1]));
  };
  sample();
  const timer = setInterval(sample, 50);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/**
 * A new overlay agent over `base`, initialised in `dir` as `name`.db and mounted at `dir/name`
 * with its server's trace (AGENTFS_FUSE_TRACE) in `dir/name`.trace, written at unmount; `env`
 * for the server (AGENTFS_NATIVE_READS=0: JavaScript only). Throws if init fails.
 */
export async function mountTracedOverlay(
  dir: string,
  base: string,
  name: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ mnt: string; pid: number; trace: string }> {
  const db = join(dir, `${name}.db`);
  const mnt = join(dir, name);
  mkdirSync(mnt);
  const init = await runCli(['init', db, '--base', base]);
  if (init.code !== 0) throw new Error(`init ${db} failed: ${init.stderr}`);
  const trace = join(dir, `${name}.trace`);
  return { mnt, trace, pid: await mountBg(db, mnt, extra, undefined, { AGENTFS_FUSE_TRACE: trace, ...env }) };
}

/** What a background mount's server wrote to its log under `runtimeDir` ('' when there is none). */
export function mountLog(runtimeDir: string, mountpoint: string): string {
  const file = join(runtimeDir, `mount-${createHash('sha1').update(mountpoint).digest('hex').slice(0, 16)}.log`);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/**
 * Fresh agents mounted in the background with the server's per-request counts
 * (AGENTFS_FUSE_STATS), which it writes to its log when unmounted: unmount() returns that log.
 */
export class StatsMounts {
  private readonly mounts: Array<{ mnt: string; pid?: number }> = [];

  constructor(private readonly dir: string) {}

  get runtime(): string {
    return join(this.dir, 'run');
  }

  /** `init NAME.db --no-journal` in dbDir, mounted at dir/NAME; returns the mountpoint. */
  async mount(name: string, env: NodeJS.ProcessEnv = {}, dbDir = this.dir): Promise<string> {
    const mnt = join(this.dir, name);
    mkdirSync(mnt);
    const opts = { cwd: dbDir, env: { AGENTFS_RUNTIME_DIR: this.runtime, AGENTFS_FUSE_STATS: '1', ...env } };
    expect((await runCli(['init', `${name}.db`, '--no-journal'], opts)).code).toBe(0);
    const r = await runCli(['mount', `${name}.db`, mnt], opts);
    expect(r.stderr).toBe('');
    this.mounts.push({ mnt, pid: Number(/\(pid (\d+)\)/.exec(r.stdout)?.[1]) });
    return mnt;
  }

  /**
   * Unmounts (which must succeed) and returns the server's log, once the server has exited (its
   * files closed: a tmpfs under its database can be unmounted then).
   */
  async unmount(mnt: string): Promise<string> {
    expect((await runCli(['unmount', mnt], { env: { AGENTFS_RUNTIME_DIR: this.runtime } })).code).toBe(0);
    expect(isMounted(mnt)).toBe(false);
    const pid = this.mounts.find((m) => m.mnt === mnt)?.pid;
    for (let i = 0; i < 200 && pid !== undefined && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    return mountLog(this.runtime, mnt);
  }

  /** Cleanup of every mount made, by mountpoint and pid (for afterAll). */
  async cleanup(): Promise<void> {
    for (const m of this.mounts) await forceUnmount(m.mnt, m.pid);
  }
}

/**
 * StatsMounts for a test file, in a temporary directory of its own: made before the file's tests,
 * every mount and the directory removed after them.
 */
export function fileStatsMounts(prefix?: string): { readonly dir: string; readonly mounts: StatsMounts } {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let mounts: StatsMounts | undefined;
  beforeAll(() => {
    tmp = tempDir(prefix);
    mounts = new StatsMounts(tmp.dir);
  });
  afterAll(async () => {
    await mounts?.cleanup();
    tmp?.cleanup();
  });
  const made = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('fileStatsMounts: used outside the tests of its file');
    return v;
  };
  return {
    get dir() {
      return made(tmp).dir;
    },
    get mounts() {
      return made(mounts);
    },
  };
}
