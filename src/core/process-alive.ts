import { readFileSync } from 'node:fs';

/** True while process pid exists (also when it belongs to another user: EPERM). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // kill(0 or -n) would signal a whole group
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True once process pid has exited: gone, or a zombie its parent has not reaped yet (its files
 * are closed by then). A daemon's parent is init, which may reap it seconds later (1.5-2 s on a
 * VM here), and kill(pid, 0) answers for a zombie until then.
 */
export function hasExited(pid: number): boolean {
  if (!isAlive(pid)) return true;
  if (process.platform !== 'linux') return false;
  try {
    return isDead(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0] ?? '');
  } catch {
    return true; // gone between the two looks
  }
}

/** The fields of /proc/PID/stat after the command name, which is in parentheses and may hold anything. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A zombie or a dead task (/proc/PID/stat's state): it has exited, its files are closed. */
function isDead(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

export interface ProcessInfo {
  /** false once the process is a zombie, exiting, or has SIGKILL pending (it cannot run again) */
  running: boolean;
  /** when it started, in ms since the epoch (from /proc: boot time + start ticks) */
  startMs: number;
  /** its argv */
  argv: string[];
}

/**
 * What /proc says about pid, or undefined when there is no such process. A process killed
 * with SIGKILL a moment ago still answers kill(pid, 0) while it exits, and a zombie does until
 * its parent reaps it; its pid may later belong to some other program.
 */
export function processInfo(pid: number): ProcessInfo | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const fields = statFields(stat);
    const state = fields[0] ?? '';
    const startTicks = Number(fields[19]);
    const pending = (name: string) => BigInt(`0x${/^${name}:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
    const sigkill = 1n << 8n; // bit SIGKILL - 1
    const exiting = (Number(fields[6]) & PF_EXITING) !== 0; // in do_exit(), after SIGKILL was taken
    const dying = exiting || ((pending('SigPnd') | pending('ShdPnd')) & sigkill) !== 0n;
    return { running: !isDead(state) && !dying, startMs: bootMs() + (startTicks * 1000) / TICKS, argv };
  } catch {
    return undefined;
  }
}

/** The kernel's task flag for a process in its exit path (include/linux/sched.h). */
const PF_EXITING = 0x4;

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const TICKS = 100;

let boot: number | undefined;
function bootMs(): number {
  if (boot === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    boot = m ? Number(m[1]) * 1000 : 0;
  }
  return boot;
}
