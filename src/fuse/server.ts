/**
 * Serves any FileSystem (src/core/types.ts) as a real mount through the native libfuse 3
 * low-level binding. Requests arrive in bursts and are answered as they are served; changes
 * are grouped into one storage transaction per few milliseconds (group commit), and fsync is
 * the durability point: it commits and syncs before it answers.
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { errnoOf, isFsError } from '../core/errors.js';
import type { FileSystem } from '../core/types.js';
import { checkFuse, fusermountPath, loadBinding, mountFailureHint, Op, ARG, WRITE_DATA, type NativeBinding, type RawRequest, type SessionHandle } from './binding.js';
import { HANDLERS, MUTATING, SYNCING } from './handlers/index.js';
import { ServeState, type CacheTimeouts, type Reply } from './state.js';
import { traceTarget, writeTrace } from '../trace.js';

export interface FuseMountOptions {
  /**
   * Group commit: changes made within a few ms share one storage transaction. Replies go out
   * before the commit (as with a page cache); fsync commits and syncs before it answers.
   */
  groupCommit?: GroupCommit;
  /** longest a change waits for its commit (default 10 ms) */
  groupCommitMs?: number;
  /**
   * A number that changes when another process changed the storage (Store.dataVersion); polled
   * so the kernel's caches are dropped then, which lets the cache timeouts be long.
   */
  changeCounter?: () => number;
  /** report every file as owned by this uid / gid */
  uid?: number;
  gid?: number;
  allowOther?: boolean;
  allowRoot?: boolean;
  /** the kernel unmounts by itself if this process dies (fusermount3 watches it) */
  autoUnmount?: boolean;
  readOnly?: boolean;
  /** kernel cache lifetimes in seconds */
  timeouts?: Partial<CacheTimeouts>;
  /**
   * Let the kernel cache writes (FUSE writeback cache): much faster small writes, but the kernel
   * then trusts its own file sizes, so changes made by other processes to files it has cached are
   * not seen. Off by default.
   */
  writeback?: boolean;
  /** answer readdir with attributes (readdirplus; default on: `ls -l` needs no lookups) */
  readdirplus?: boolean;
  /**
   * Let the kernel keep directory listings between opens while a directory's attributes are
   * unchanged (FOPEN_CACHE_DIR). `true`: for as long as that holds, which needs every change to
   * come through this mount or the watched database (changeCounter). A number of seconds: at
   * most that long, for an overlay whose base the host may change unseen.
   */
  cacheReaddir?: boolean | number;
  /** the "device" shown by mount(8) and df(1) */
  fsname?: string;
  /** unexpected (non-errno) errors are reported here; they reach the caller as EIO */
  onError?: (error: unknown, op: number) => void;
}

const ENOSYS = osConstants.errno.ENOSYS;
const EIO = osConstants.errno.EIO;
const ENOSPC = osConstants.errno.ENOSPC;
/** an open that truncates (atomic_o_trunc) changes the database */
const O_TRUNC = 0o1000;

/** Opens and commits a transaction that spans several requests (Store.beginBatch/commitBatch). */
export interface GroupCommit {
  /** false when a transaction is already open (nothing was opened) */
  begin(): boolean;
  commit(): void;
  /** bytes the storage can still grow by (free space of its filesystem); see lowOnSpace */
  room?(): number;
}

const GROUP_COMMIT_MS = 10;
/**
 * Below this much free space (after what the open group may still need) changes are committed
 * before they are answered: a group commit that fails for lack of space would lose writes that
 * were already acknowledged, while a change committed alone fails with ENOSPC to its caller.
 */
const LOW_SPACE = 64 << 20;
/** A stored 4 KiB chunk costs about two pages in the WAL and two in the database at checkpoint. */
const SPACE_PER_BYTE = 3;
/**
 * Writes that would leave less than this free are refused with ENOSPC before SQLite runs out:
 * deleting needs room too (the WAL takes the freed pages first), and `rm` must work on a full disk.
 */
const RESERVE = 8 << 20;
const ROOM_POLL_MS = 50;
/** commit early after this much written data, to keep the open transaction small */
const GROUP_MAX_BYTES = 64 << 20;

/** Long lifetimes are safe: changes through the mount keep the kernel's caches right, and outside
 * changes (changeCounter) drop them. Without a changeCounter the lifetimes are 1 s. */
export const DEFAULT_TIMEOUTS: CacheTimeouts = { entry: 60, attr: 60, negative: 0 };
const UNWATCHED_TIMEOUTS: CacheTimeouts = { entry: 1, attr: 1, negative: 0 };
const WATCH_MS = 100;

export class FuseServer {
  readonly mountpoint: string;
  /** settles when the session has ended (unmounted, or the connection was aborted) */
  readonly closed: Promise<void>;
  /** what the kernel agreed to at init */
  info: { maxWrite: number; proto: string; writeback: boolean; readdirplus: boolean } | undefined;

  private readonly native: NativeBinding;
  private readonly state: ServeState;
  private readonly options: FuseMountOptions;
  private handle: SessionHandle | undefined;
  private ready!: { resolve: () => void; reject: (e: Error) => void };
  private readyPromise: Promise<void>;
  private resolveClosed!: () => void;
  private ended = false;
  private groupOpen = false;
  private groupBytes = 0;
  private groupTimer: NodeJS.Timeout | undefined;

  private constructor(fs: FileSystem, mountpoint: string, options: FuseMountOptions) {
    this.native = loadBinding();
    this.mountpoint = mountpoint;
    this.options = options;
    const timeouts = { ...(options.changeCounter ? DEFAULT_TIMEOUTS : UNWATCHED_TIMEOUTS), ...options.timeouts };
    this.state = new ServeState(fs, this.native, timeouts, { uid: options.uid, gid: options.gid });
    this.state.watched = options.changeCounter !== undefined;
    const c = options.cacheReaddir;
    this.state.listingMaxAgeS = typeof c === 'number' && c > 0 ? c : c === true && this.state.watched ? Infinity : 0;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.readyPromise = new Promise((resolve, reject) => (this.ready = { resolve, reject }));
  }

  /** Mounts fs on mountpoint; resolves once the kernel has completed the FUSE handshake. */
  static async mount(fs: FileSystem, mountpoint: string, options: FuseMountOptions = {}): Promise<FuseServer> {
    checkFuse();
    const server = new FuseServer(fs, mountpoint, options);
    try {
      server.start();
    } catch (e) {
      const hint = (e as { code?: string }).code === 'EMOUNT' ? mountFailureHint() : undefined;
      if (hint) (e as Error).message += `; ${hint}`;
      throw e;
    }
    await server.readyPromise;
    return server;
  }

  private start(): void {
    const o = this.options;
    const mountOpts = ['default_permissions', `fsname=${o.fsname ?? 'agentfs'}`, 'subtype=agentfs'];
    if (o.allowOther) mountOpts.push('allow_other');
    else if (o.allowRoot) mountOpts.push('allow_root');
    if (o.autoUnmount) mountOpts.push('auto_unmount');
    if (o.readOnly) mountOpts.push('ro');
    this.handle = this.native.mount(
      this.mountpoint,
      ['-o', mountOpts.map(escapeOpt).join(',')],
      { maxWrite: 1 << 20, maxReadahead: 1 << 20, writeback: o.writeback ?? false, readdirplus: o.readdirplus ?? true },
      (batch) => this.onBatch(batch),
    );
    this.state.handle = this.handle;
  }

  private onBatch(batch: RawRequest[]): void {
    for (const req of batch) {
      const op = req[0];
      if (op === Op.INIT) {
        const [maxWrite, major, minor, writeback, readdirplus] = req.slice(ARG) as number[];
        this.info = { maxWrite, proto: `${major}.${minor}`, writeback: writeback === 1, readdirplus: readdirplus === 1 };
        this.watchOutsideChanges();
        this.ready.resolve();
      } else if (op === Op.EXIT) {
        this.commit();
        this.finish();
      } else if (SYNCING.has(op)) {
        // the durability point: everything acknowledged so far is committed, then synced
        this.commit();
        if (this.lostError) {
          // a group commit failed after its writes were answered: the next fsync says so (once)
          const errno = this.lostError;
          this.lostError = 0;
          this.safeReply(req[1], () => this.native.replyErr(req[1], errno));
        } else this.runOne(req)();
      } else {
        if (MUTATING.has(op) || (op === Op.OPEN && (req[ARG] as number) & O_TRUNC)) {
          const incoming = op === Op.WRITE ? (req[WRITE_DATA] as Buffer).length : 0;
          if (this.lowOnSpace(incoming)) {
            // alone and committed before the reply, so a full disk fails this request, not a group
            this.commit();
            if (incoming > 0 && this.room - this.roomUsed * SPACE_PER_BYTE < RESERVE) {
              this.roomUsed -= incoming;
              this.safeReply(req[1], () => this.native.replyErr(req[1], ENOSPC));
            } else this.runOne(req)();
            continue;
          }
          this.openGroup();
        }
        this.runOne(req)();
        if (op === Op.WRITE && this.groupOpen) {
          this.groupBytes += (req[WRITE_DATA] as Buffer).length;
          if (this.groupBytes >= GROUP_MAX_BYTES) this.commit();
        }
      }
    }
  }

  private watchTimer: NodeJS.Timeout | undefined;

  private watchOutsideChanges(): void {
    const counter = this.options.changeCounter;
    if (!counter) return;
    let last = counter();
    this.watchTimer = setInterval(() => {
      let now: number;
      try {
        now = counter();
      } catch {
        return;
      }
      if (now !== last) {
        last = now;
        this.state.invalidateAll();
      }
    }, WATCH_MS);
    this.watchTimer.unref();
  }

  /** Starts a group commit unless one is open: changes of the next few ms share one commit. */
  private openGroup(): void {
    const g = this.options.groupCommit;
    if (!g || this.groupOpen) return;
    if (!g.begin()) return;
    this.groupOpen = true;
    this.groupTimer = setTimeout(() => this.commit(), this.options.groupCommitMs ?? GROUP_COMMIT_MS);
  }

  /** Commits the open group. Its replies went out already; a failed commit can only be reported. */
  private commit(): void {
    if (!this.groupOpen) return;
    this.groupOpen = false;
    this.groupBytes = 0;
    if (this.groupTimer) clearTimeout(this.groupTimer);
    this.groupTimer = undefined;
    try {
      this.options.groupCommit!.commit();
    } catch (e) {
      this.lostError = errnoOf(e);
      this.report(e, -1);
    }
  }

  /** errno of a failed group commit not yet reported to an fsync (0: none) */
  private lostError = 0;
  private room = Infinity;
  private roomAt = 0;
  private roomUsed = 0;

  /** The storage is close to full (free space polled every 50 ms, minus what was written since). */
  private lowOnSpace(incoming: number): boolean {
    const g = this.options.groupCommit;
    if (!g?.room) return false;
    const now = Date.now();
    if (now - this.roomAt >= ROOM_POLL_MS) {
      try {
        this.room = g.room();
      } catch {
        this.room = Infinity;
      }
      this.roomAt = now;
      this.roomUsed = 0;
    }
    this.roomUsed += incoming;
    return this.room - (this.roomUsed + this.groupBytes) * SPACE_PER_BYTE < LOW_SPACE;
  }

  /** Serves one request; returns its reply (an error reply when the operation failed). */
  private runOne(req: RawRequest): Reply {
    if (this.stats) {
      const t = performance.now();
      const reply = this.serve(req);
      const entry = this.stats.get(req[0]) ?? { count: 0, ms: 0, bytes: 0 };
      entry.count++;
      entry.ms += performance.now() - t;
      if (req[0] === Op.WRITE) entry.bytes += (req[WRITE_DATA] as Buffer).length;
      this.stats.set(req[0], entry);
      return reply;
    }
    return this.serve(req);
  }

  /** Per-request counts and time (AGENTFS_FUSE_STATS=1 or AGENTFS_FUSE_TRACE), reported when the session ends. */
  private readonly stats = process.env.AGENTFS_FUSE_STATS || traceTarget() ? new Map<number, { count: number; ms: number; bytes: number }>() : undefined;

  private serve(req: RawRequest): Reply {
    const handler = HANDLERS.get(req[0]);
    const id = req[1];
    if (!handler) return () => this.safeReply(id, () => this.native.replyErr(id, ENOSYS));
    try {
      const reply = handler(this.state, req);
      return () => this.safeReply(id, reply);
    } catch (e) {
      if (!isFsError(e)) this.report(e, req[0]);
      const errno = errnoOf(e);
      return () => this.safeReply(id, () => this.native.replyErr(id, errno));
    }
  }

  /** Sends a reply; if building it fails, the caller still gets an answer (EIO), never a hang. */
  private safeReply(id: number, reply: Reply): void {
    try {
      reply();
    } catch (e) {
      this.report(e, -1);
      try {
        this.native.replyErr(id, EIO);
      } catch {
        /* it was answered before the failure */
      }
    }
  }

  private report(e: unknown, op: number): void {
    if (this.options.onError) this.options.onError(e, op);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    if (this.stats) {
      const names = new Map(Object.entries(Op).map(([k, v]) => [v as number, k]));
      const lines = [...this.stats].map(([op, e]) => `fuse ${names.get(op)}: ${e.count} requests, ${e.ms.toFixed(0)} ms${e.bytes ? `, ${(e.bytes / e.count / 1024).toFixed(0)} KiB avg` : ''}`);
      if (traceTarget()) writeTrace([`mount ${this.mountpoint}:`, ...lines]);
      else for (const line of lines) console.error(line);
    }
    if (this.handle) this.native.destroy(this.handle);
    this.ready.reject(new Error(`the FUSE session on ${this.mountpoint} ended before it was ready`));
    this.resolveClosed();
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /**
   * Unmounts and waits for the session to end. `lazy` detaches even when the mount is busy
   * (processes keep what they have open; the session ends when they let go).
   */
  async unmount(options: { lazy?: boolean; graceMs?: number } = {}): Promise<void> {
    if (this.ended) return;
    await unmountPath(this.mountpoint, options.lazy ?? false, this.native);
    if (options.graceMs === undefined) {
      await this.closed;
      return;
    }
    const timer = new Promise<void>((resolve) => setTimeout(resolve, options.graceMs).unref());
    await Promise.race([this.closed, timer]);
    if (!this.ended) this.abandon();
  }

  /**
   * Stops this session from keeping the process alive. Used when a lazily detached mount is
   * still in use at exit: the process ends, its /dev/fuse descriptor closes, and the kernel
   * aborts the connection, so remaining users get ENOTCONN rather than a hang.
   */
  abandon(): void {
    if (!this.ended && this.handle) this.native.unref(this.handle);
  }
}

/** Commas and backslashes in -o values are escaped for libfuse's option parser. */
function escapeOpt(opt: string): string {
  return opt.replace(/[\\,]/g, (c) => `\\${c}`);
}

/** Unmounts a FUSE mountpoint: umount2(2) as root, fusermount3 otherwise. Throws on failure. */
export async function unmountPath(mountpoint: string, lazy: boolean, native: NativeBinding = loadBinding()): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    const err = native.umount(mountpoint, lazy);
    if (err === 0) return;
    throw Object.assign(new Error(`cannot unmount ${mountpoint}: ${errnoName(err)}`), { errno: err, code: errnoName(err) });
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn(fusermountPath() ?? 'fusermount3', ['-u', ...(lazy ? ['-z'] : []), '--', mountpoint], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const busy = /busy/i.test(err);
        reject(Object.assign(new Error(`cannot unmount ${mountpoint}: ${err.trim() || `fusermount3 exited with ${code}`}`), busy ? { code: 'EBUSY' } : {}));
      }
    });
  });
}

function errnoName(n: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === n) return name;
  return `errno ${n}`;
}
