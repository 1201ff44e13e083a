/**
 * Serves any FileSystem (src/core/types.ts) as a real mount through the native libfuse 3
 * low-level binding: mounts, dispatches each request to its handler and sends the reply, and
 * ends the session. Requests arrive in bursts and are answered as they are served; changes are
 * grouped into one storage transaction per few milliseconds (group-commit.ts), outside changes
 * drop the kernel's caches (change-watcher.ts), and fsync is the durability point: it commits
 * and syncs before it answers.
 */
import { realpathSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { sep } from 'node:path';
import { errnoOf, isFsError } from '../core/errors.js';
import { errnoForKernel } from './stale.js';
import type { FileSystem } from '../core/types.js';
import type { SharedReads } from '../core/fs/shared-reads.js';
import { batchOrder } from './batch-order.js';
import { checkFuse, decodeRequest, loadBinding, mountFailureHint, Op, type FuseRequest, type InitRequest, type NativeBinding, type RawRequest, type SessionHandle } from './binding.js';
import { watchChanges } from './change-watcher.js';
import { GROUP_COMMIT_MS, GroupCommitter, type GroupCommit } from './group-commit.js';
import { HANDLERS, MUTATING, SYNCING } from './handlers/index.js';
import { carriedKey, listingKey } from './handlers/dirs.js';
import { HostOffers } from './host-offers.js';
import { ServeState, type CacheTimeouts, type Reply } from './state.js';
import { raiseReadahead } from './readahead.js';
import { RequestStats } from './stats.js';
import { unmountPath } from './unmount.js';

export type { GroupCommit } from './group-commit.js';

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
  /**
   * Serve lookup, getattr, readdir, read and readlink in the addon, from a read-only connection
   * of its own, whenever no write transaction is open here (FileSystem.sharedReads; default on,
   * AGENTFS_NATIVE_READS=0 turns it off). Every other request, and these while a write is
   * uncommitted, are served in JavaScript. On an overlay (FileSystem.hostFiles): getattr and
   * read-only open, read and release of the files that are exactly host files, from the host.
   */
  nativeReads?: boolean;
  /** unexpected (non-errno) errors are reported here; they reach the caller as EIO */
  onError?: (error: unknown, op: number) => void;
}

const ENOSYS = osConstants.errno.ENOSYS;
const EIO = osConstants.errno.EIO;
const ENOSPC = osConstants.errno.ENOSPC;
/** WRITEs this large come in the request's own memory (native/request_bytes.h REQUEST_BYTES_SHARED) */
const SHARED_BYTES = 64 * 1024;
/** an open that truncates (atomic_o_trunc) changes the database */
const O_TRUNC = 0o1000;

/** Long lifetimes are safe: changes through the mount keep the kernel's caches right, and outside
 * changes (changeCounter) drop them. Without a changeCounter the lifetimes are 1 s. */
export const DEFAULT_TIMEOUTS: CacheTimeouts = { entry: 60, attr: 60, negative: 0 };
/**
 * How long the JS thread waits for the next request after a batch before it returns to the event
 * loop (AGENTFS_FUSE_SPIN_US; 0: never).
 */
const SPIN_US = Math.max(0, Number(process.env.AGENTFS_FUSE_SPIN_US ?? 200) || 0);
/**
 * The longest the JS thread keeps taking requests itself before it returns to its event loop.
 * Each return costs the next request a wake-up (~50-150 us here), so it is long; the group
 * commit falls due meanwhile and is made in the loop (GroupCommitter.commitIfDue), and the other
 * timers (the change watcher's 100 ms poll, the journal's idle flush) can wait that long.
 * (500 `echo >> f` in `run`: 453 ms with 2 ms, 400 with 10, 385 with 20.) AGENTFS_FUSE_SPIN_BUDGET_MS.
 */
const SPIN_BUDGET_MS = Math.max(0, Number(process.env.AGENTFS_FUSE_SPIN_BUDGET_MS ?? 20) || 0);
/**
 * Events the addon queues without waking this thread (a native open, release or access time: no
 * client waits on them, and waking this thread for each cost a first `cat` of 2,000 files 1.8x
 * its time) come with the next request, or are taken by a timer this often: what they settle (an
 * unlinked file's purge at its last close, an access time stored) waits that long at most. (A
 * watched mount's change watcher takes them at its ticks too; sessions without one have only this.)
 */
const QUIET_DRAIN_MS = 50;
/** How often a full disk under the database is reported while requests keep failing on it. */
const FULL_REPORT_MS = 60_000;
const UNWATCHED_TIMEOUTS: CacheTimeouts = { entry: 1, attr: 1, negative: 0 };

/** The addon's events served before the requests of their batch (serveEvent). */
const FIRST: ReadonlySet<unknown> = new Set([Op.OPENED, Op.LISTED, Op.DIRKEY]);

/** A batch holds a kernel request (events the addon queued carry id -1: nobody waits on them). */
function awaited(batch: RawRequest[]): boolean {
  for (const raw of batch) if (raw[1] !== -1) return true;
  return false;
}

export class FuseServer {
  readonly mountpoint: string;
  /** settles when the session has ended (unmounted, or the connection was aborted) */
  readonly closed: Promise<void>;
  /** what the kernel agreed to at init */
  info: { maxWrite: number; proto: string; writeback: boolean; readdirplus: boolean; killpriv: boolean } | undefined;

  private readonly native: NativeBinding;
  private readonly state: ServeState;
  private readonly options: FuseMountOptions;
  private handle: SessionHandle | undefined;
  private ready!: { resolve: () => void; reject: (e: Error) => void };
  private readyPromise: Promise<void>;
  private resolveClosed!: () => void;
  private ended = false;
  private readonly group: GroupCommitter;
  private stopWatching: (() => void) | undefined;
  private readonly stats = RequestStats.fromEnv();
  private shared: SharedReads | undefined;
  /** requests drained from the native queue out of turn, served after the current batch */
  private backlog: RawRequest[] = [];
  private inBatch = false;
  private lastFullReport = -Infinity;
  /** takes the quiet events (QUIET_DRAIN_MS) */
  private quietDrain: ReturnType<typeof setInterval> | undefined;

  private constructor(fs: FileSystem, mountpoint: string, options: FuseMountOptions) {
    this.native = loadBinding();
    this.mountpoint = mountpoint;
    this.options = options;
    const timeouts = { ...(options.changeCounter ? DEFAULT_TIMEOUTS : UNWATCHED_TIMEOUTS), ...options.timeouts };
    this.state = new ServeState(fs, this.native, timeouts, { uid: options.uid, gid: options.gid });
    this.state.watched = options.changeCounter !== undefined;
    this.state.pagesWatched = this.state.watched && fs.hostFiles === undefined;
    const c = options.cacheReaddir;
    this.state.listingMaxAgeS = typeof c === 'number' && c > 0 ? c : c === true && this.state.watched ? Infinity : 0;
    this.group = new GroupCommitter(options.groupCommit, options.groupCommitMs ?? GROUP_COMMIT_MS, (e) => this.report(e, -1));
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
    raiseReadahead(mountpoint);
    return server;
  }

  private start(): void {
    const o = this.options;
    const mountOpts = ['default_permissions', `fsname=${o.fsname ?? 'agentfs'}`, 'subtype=agentfs'];
    if (o.allowOther) mountOpts.push('allow_other');
    else if (o.allowRoot) mountOpts.push('allow_root');
    if (o.autoUnmount) mountOpts.push('auto_unmount');
    if (o.readOnly) mountOpts.push('ro');
    const nativeOn = o.nativeReads !== false && process.env.AGENTFS_NATIVE_READS !== '0';
    const shared = nativeOn ? this.state.fs.sharedReads?.() : undefined;
    this.state.hostFiles = this.state.fs.hostFiles?.();
    const hostFiles = nativeOn ? this.state.hostFiles : undefined;
    this.state.atimes = !o.readOnly && (shared ?? hostFiles?.delta)?.atimes !== false;
    const t = this.state.timeouts;
    const reader = shared && {
      path: shared.path,
      chunkSize: shared.chunkSize,
      sql: shared.sql,
      statfs: shared.statfs,
      atimes: shared.atimes,
      uid: o.uid,
      gid: o.gid,
      entryTimeout: t.entry,
      attrTimeout: t.attr,
      negativeTimeout: t.negative,
      listingMaxAge: this.state.listingMaxAgeS,
      keepCache: this.state.watched,
      openLater: !underMountpoint(shared.path, this.mountpoint),
    };
    const handle = this.native.mount(
      this.mountpoint,
      ['-o', mountOpts.map(escapeOpt).join(',')],
      {
        maxWrite: 1 << 20,
        maxReadahead: 1 << 20,
        writeback: o.writeback ?? false,
        readdirplus: o.readdirplus ?? true,
        reader,
        hostFiles: hostFiles && {
          attrTimeout: t.attr,
          entryTimeout: t.entry,
          negativeTimeout: t.negative,
          uid: o.uid ?? -1,
          gid: o.gid ?? -1,
          listingMaxAge: this.state.listingMaxAgeS,
          hiddenDirs: hostFiles.hiddenDirs(),
          baseFd: hostFiles.root.fd,
          basePrefix: hostFiles.root.prefix,
          baseDev: hostFiles.root.dev,
          settledListings: hostFiles.root.ctimeKept,
          delta: hostFiles.delta && {
            path: hostFiles.delta.path,
            chunkSize: hostFiles.delta.chunkSize,
            sql: hostFiles.delta.sql,
            atimes: hostFiles.delta.atimes,
            uid: o.uid,
            gid: o.gid,
            attrTimeout: t.attr,
          },
        },
      },
      (batch) => this.onBatch(batch),
    );
    this.handle = handle;
    this.state.handle = handle;
    this.quietDrain = setInterval(() => {
      if (this.ended) return;
      const batch = this.native.drain(handle);
      if (batch.length) this.onBatch(batch);
    }, QUIET_DRAIN_MS);
    this.quietDrain.unref();
    if (hostFiles) {
      const offers = new HostOffers(this.native, handle, hostFiles);
      offers.onCopiedDir = (ino) => {
        const held = this.state.cacheKeys.get(ino);
        if (held !== undefined) this.state.rememberCacheKey(ino, carriedKey(held, Date.now(), this.state.listingMaxAgeS));
      };
      this.state.hostOffers = offers;
    }
    if (hostFiles?.delta && this.native.readerStats(handle).deltaActive) this.shareDeltaReads(hostFiles.delta, handle);
    if (shared && this.native.readerStats(handle).active) this.shareReads(shared, handle);
  }

  /**
   * An overlay's delta files answered natively (GETATTR): the addon hears of this side's write
   * transactions and of the access times held here, as the native reader of a mount does.
   */
  private shareDeltaReads(delta: SharedReads, handle: SessionHandle): void {
    this.state.hostOffers!.deltas = true;
    this.state.sharesAttrs = true;
    delta.onWriting((writing) => {
      this.state.setWriting(writing);
      if (!this.ended) this.native.setWriting(handle, writing);
    });
    this.watchAtimes(delta, handle);
  }

  private watchAtimes(shared: SharedReads, handle: SessionHandle): void {
    shared.watchAtimes({
      pending: (ino, t) => {
        if (!this.ended) this.native.atimePending(handle, ino, t.sec, t.nsec);
      },
      stored: (ino, t) => {
        if (!this.ended) this.native.atimeStored(handle, ino, t?.sec, t?.nsec);
      },
      settled: (times, stored) => {
        if (this.ended || times.size === 0) return;
        // [ino, sec, nsec] each, sec -1 for a time given up (one loop: see LazyAtime.writeOut)
        const a = new Float64Array(times.size * 3);
        let i = 0;
        for (const [ino, t] of times) {
          const kept = stored === 'all' || stored.has(ino);
          a[i++] = ino;
          a[i++] = kept ? t.sec : -1;
          a[i++] = kept ? t.nsec : 0;
        }
        this.native.atimesStored(handle, a);
      },
    });
  }

  /** Hands the native reader what only this side knows: open write transactions, pending atimes. */
  private shareReads(shared: SharedReads, handle: SessionHandle): void {
    this.shared = shared;
    this.state.sharesReads = true;
    this.state.sharesAttrs = true;
    this.group.commitOnReads = true;
    this.state.takeNativeOpens = () => this.takeNativeOpens();
    shared.onWriting((writing) => {
      this.state.setWriting(writing);
      if (this.ended) return;
      this.native.setWriting(handle, writing);
      // what this transaction unlinks may be open through a native open that saw it before: count those first
      if (writing) this.takeNativeOpens();
    });
    this.watchAtimes(shared, handle);
  }

  private onBatch(batch: RawRequest[]): void {
    if (this.inBatch) {
      this.backlog.push(...batch);
      return;
    }
    this.inBatch = true;
    try {
      // what a hold drained between batches (takeNativeOpens) was queued before this batch: an
      // access time a native read moved, served after a GETATTR that followed it, let that GETATTR
      // hand the kernel the old time to keep for the attribute timeout
      if (this.backlog.length) {
        batch = this.backlog.concat(batch);
        this.backlog = [];
      }
      this.serveBatch(batch);
      // requests drained while this batch ran (takeNativeOpens), in their order
      while (this.backlog.length && !this.ended) {
        const more = this.backlog;
        this.backlog = [];
        this.serveBatch(more);
      }
      // the client's next request, if it comes at once: taken here rather than by a wake-up (for
      // SPIN_BUDGET_MS at most, then back to the event loop: the group commit's timer, the watcher).
      // Only after a request a client waits on: after events alone (the native reader's access
      // times and opens) no client waits here, and a spinning thread takes a core from those
      // that do (a first `cat` of 2,000 files: 740-800 ms spinning, 480-680 not).
      if (SPIN_US > 0 && this.handle !== undefined && awaited(batch)) {
        const stopAt = performance.now() + SPIN_BUDGET_MS;
        const next = () => (performance.now() < stopAt ? this.native.drainSpin(this.handle!, SPIN_US) : []);
        for (let more = next(); more.length && !this.ended; more = awaited(more) ? next() : []) {
          this.serveBatch(more);
          while (this.backlog.length && !this.ended) {
            const rest = this.backlog;
            this.backlog = [];
            this.serveBatch(rest);
          }
          this.group.commitIfDue();
        }
      }
    } finally {
      this.inBatch = false;
      // drainSpin may have left this thread reading /dev/fuse: the loop's threads read it while
      // the event loop runs
      if (this.handle !== undefined && !this.ended) this.native.leadEnd(this.handle);
    }
  }

  private serveBatch(batch: RawRequest[]): void {
    // a read burst's piled-up events after the requests they do not bear on (batch-order.ts)
    for (const group of batchOrder(batch)) this.serveInOrder(group);
  }

  private serveInOrder(batch: RawRequest[]): void {
    // The native reader's opens first: an unlink in this batch may have raced an open that saw
    // the file (its OPENED queued after the UNLINK), and counting an open early only delays a purge.
    // Entries the addon listed come with them, in order: an open counts on the node they give.
    for (const raw of batch) if (FIRST.has(raw[0])) this.serveEvent(raw);
    for (const raw of batch) {
      if (FIRST.has(raw[0])) continue;
      const req = decodeRequest(raw);
      const op = req.op;
      if (op === Op.INIT) {
        this.onInit(req);
      } else if (op === Op.OPENED || op === Op.RELEASED) {
        // a read-only open (or its release) the native reader answered: counted as JavaScript's own
        this.countNativeOpen(req.op === Op.OPENED, req.ino, req.op === Op.OPENED ? req.flags : 0);
      } else if (op === Op.ATIME) {
        // a read the native side served moved this access time: stored with the next write
        this.shared?.noteAtime(req.ino, { sec: req.sec, nsec: req.nsec });
      } else if (op === Op.EXIT) {
        this.group.commit();
        this.finish();
      } else if (SYNCING.has(op)) {
        // the durability point: everything acknowledged so far is committed, then synced
        this.group.commit();
        // a group commit failed after its writes were answered: the next fsync says so (once)
        const lost = this.group.takeLostError();
        if (lost) this.safeReply(req.id, () => this.native.replyErr(req.id, lost));
        else this.runOne(req)();
      } else {
        if (MUTATING.has(op) || (req.op === Op.OPEN && req.flags & O_TRUNC)) {
          if (!this.beginChange(req)) continue;
        } else {
          this.group.read();
        }
        this.runOne(req)();
        if ((op === Op.READDIR || op === Op.READDIRPLUS) && this.group.commitOnReads && this.state.dirs.get(req.fh)?.more) {
          // The addon leaves a directory the open group touched to this side, whose listing
          // costs ~2 us an entry against ~0.2 there (5,000 files made, then listed at once:
          // 10 ms, bindfs 2.5). A listing longer than this page commits the group, and its
          // next pages go to the addon; a shorter one costs less than the commit would.
          this.group.commit();
        }
        if (op === Op.WRITE) {
          this.group.wrote(req.data.length);
          this.releaseBytes(req.data);
        }
      }
    }
  }

  /**
   * Opens the group commit for a request that changes something; false when the request was
   * answered here instead (served alone on a nearly full disk, or refused without a write lock).
   */
  private beginChange(req: FuseRequest): boolean {
    const op = req.op;
    this.state.changes++;
    const incoming = op === Op.WRITE ? req.data.length : 0;
    if (this.group.lowOnSpace(incoming)) {
      // alone and committed before the reply, so a full disk fails this request, not a group
      this.group.commit();
      if (this.group.refuses(incoming)) this.safeReply(req.id, () => this.native.replyErr(req.id, ENOSPC));
      else this.runOne(req)();
      if (op === Op.WRITE) this.releaseBytes(req.data);
      return false;
    }
    try {
      this.group.begin();
    } catch (e) {
      // no write lock (another process held it past the busy timeout): this request fails
      // and the next ones try again. Thrown on, it would leave the rest of the batch
      // unanswered and its callers hung (Node drops what a batch callback throws).
      if (!isFsError(e)) this.report(e, op);
      const errno = errnoOf(e);
      this.safeReply(req.id, () => this.native.replyErr(req.id, errno));
      return false;
    }
    return true;
  }

  /** The session is up: what the kernel agreed to, the change watcher started, ready told. */
  private onInit(req: InitRequest): void {
    const { maxWrite, protoMajor, protoMinor, writeback, readdirplus, killpriv } = req;
    this.info = { maxWrite, proto: `${protoMajor}.${protoMinor}`, writeback, readdirplus, killpriv };
    this.state.killpriv = killpriv;
    const counter = this.options.changeCounter;
    if (counter) {
      let seen: number | undefined;
      this.stopWatching = watchChanges(() => {
        // opens the native reader counted must be known here before an outside unlink is acted
        // on: new ones wait in JavaScript's queue meanwhile, and those that saw the file before
        // it went are counted first
        const held = this.shared !== undefined && this.handle !== undefined && !this.ended;
        // so must the names the addon listed (LISTED), to be taken back: its listings wait
        // too, until the kernel's names are taken back if there was a change
        const offers = this.handle !== undefined && !this.ended ? this.state.hostOffers : undefined;
        if (!held && !offers) return counter();
        if (held) this.native.hold(this.handle!, true);
        offers?.hold();
        let now: number | undefined;
        try {
          this.takeNativeOpens();
          now = counter();
          return now;
        } finally {
          const changed = now !== undefined && seen !== undefined && now !== seen;
          // another process writing: native reads keep no snapshot of its WAL (see the addon's hold)
          if (held && !this.ended) this.native.hold(this.handle!, false, !changed);
          if (now !== undefined) seen = now;
          if (offers && !changed) offers.release();
        }
      }, () => {
        this.state.fs.changedOutside?.();
        this.state.invalidateAll();
        this.state.hostOffers?.release();
      });
    }
    this.ready.resolve();
    // while the client starts: the first write it waits on then finds the connection ready
    if (!this.options.readOnly) setImmediate(() => this.prepareWrites());
  }

  /**
   * Counts the read-only opens the native reader answered and queued (the caller stopped new
   * ones first: setWriting or hold); the other queued requests are served after the current batch.
   */
  private takeNativeOpens(): void {
    if (!this.handle) return;
    for (const raw of this.native.drain(this.handle)) {
      if (FIRST.has(raw[0])) this.serveEvent(raw);
      else this.backlog.push(raw);
    }
    if (this.backlog.length && !this.inBatch) setImmediate(() => this.onBatch([]));
  }

  private serveEvent(raw: RawRequest): void {
    const req = decodeRequest(raw);
    if (req.op === Op.OPENED) this.countNativeOpen(true, req.ino, req.flags);
    else if (req.op === Op.LISTED) {
      // an entry of a host directory the addon listed with its node id: the node is recorded here
      this.state.hostOffers?.listed(req.dir, req.name, req.ino, req.mode);
      this.state.handedOut(req.dir, req.name, req.ino);
      if ((req.mode & 0o170000) === 0o040000) this.state.rememberParent(req.ino, req.dir);
    } else if (req.op === Op.DIRKEY) {
      // the listing the kernel now caches, keyed as opendir keys an overlay's
      this.state.rememberCacheKey(req.ino, listingKey({ sec: req.sec, nsec: req.nsec }, '', req.epoch));
    }
  }

  private countNativeOpen(opened: boolean, ino: number, flags: number): void {
    this.state.countNativeOpen(ino, opened ? 1 : -1);
    try {
      // the addon answered the open from the inode it read: counted, not looked up again
      if (opened) this.state.fs.open(ino, flags, true);
      else this.state.fs.release(ino);
    } catch (e) {
      // removed meanwhile (by another process): nothing is held open any more
      if (!isFsError(e)) this.report(e, opened ? Op.OPENED : Op.RELEASED);
    }
  }

  /** A WRITE was stored (SQLite copied its bytes) and answered: large bytes' memory serves the next one. */
  private releaseBytes(data: Uint8Array): void {
    if (data.length >= SHARED_BYTES) this.native.releaseBytes(data);
  }

  /** FileSystem.prepareWrites, best effort: what it cannot make now, the first write makes. */
  private prepareWrites(): void {
    if (this.ended) return;
    try {
      this.state.fs.prepareWrites?.();
    } catch (e) {
      if (!isFsError(e)) this.report(e, -1);
    }
  }

  /** Serves one request; returns its reply (an error reply when the operation failed). */
  private runOne(req: FuseRequest): Reply {
    if (this.stats) {
      const t = performance.now();
      const reply = this.serve(req);
      this.stats.add(req.op, performance.now() - t, req.op === Op.WRITE ? req.data.length : 0);
      return reply;
    }
    return this.serve(req);
  }

  private serve(req: FuseRequest): Reply {
    const handler = HANDLERS.get(req.op);
    const id = req.id;
    if (!handler) return () => this.safeReply(id, () => this.native.replyErr(id, ENOSYS));
    try {
      const reply = handler(this.state, req);
      return () => this.safeReply(id, reply);
    } catch (e) {
      if (!isFsError(e)) this.report(e, req.op);
      const errno = errnoForKernel(req.op, errnoOf(e));
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
    // a full disk fails requests with ENOSPC for as long as it lasts: said once a minute, not for
    // every request (thousands of lines, into a log that may sit on that same disk)
    if ((e as { code?: unknown })?.code === 'SQLITE_FULL') {
      const now = Date.now();
      if (now - this.lastFullReport < FULL_REPORT_MS) return;
      this.lastFullReport = now;
    }
    if (this.options.onError) this.options.onError(e, op);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.quietDrain);
    this.stopWatching?.();
    if (this.stats && this.handle) this.stats.native(this.native.readerStats(this.handle));
    if (this.stats) this.stats.requestBytes(this.native.requestBytesStats());
    this.stats?.print(this.mountpoint);
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
   * Unmounts; if the mount is busy, detaches it lazily and gives its users graceMs to let go,
   * then abandons the session. Resolves whether the session ended.
   */
  async stop(graceMs: number): Promise<boolean> {
    try {
      await this.unmount();
      return true;
    } catch {
      /* busy: detach lazily below */
    }
    try {
      await this.unmount({ lazy: true, graceMs });
    } catch {
      /* already unmounted */
    }
    return this.ended;
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

/** Whether file (a database) lies under dir (the mountpoint), both as they resolve before the mount. */
function underMountpoint(file: string, dir: string): boolean {
  try {
    const d = realpathSync(dir);
    return realpathSync(file).startsWith(d === sep ? d : d + sep);
  } catch {
    return false;
  }
}
