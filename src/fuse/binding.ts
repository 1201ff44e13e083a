/**
 * The native libfuse 3 low-level binding (native/fuse_session.cc): a local build in
 * native/build/Release or the prebuild the package ships in native/prebuilds/<platform>-<arch>,
 * found by node-gyp-build. Requests arrive in batches as arrays `[op, id, uid, gid, pid, ...args]`
 * (the format is generated from native/requests.json: ./requests.ts decodes them into typed
 * requests); each is answered once through a reply function.
 */
import { AgentfsError } from '../errors.js';
import { createRequire } from 'node:module';
import { existsSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawRequest } from './requests.js';
import type { SharedReadSql, SharedStatfs } from '../core/fs/shared-reads.js';

export { Op, decodeRequest, type RawRequest, type FuseRequest, type InitRequest } from './requests.js';

/** FUSE_SET_ATTR_* bits of a setattr request. */
export const SetAttrBits = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  CTIME: 1 << 10,
} as const;

/** Doubles per attribute record (see fill_stat in the addon). */
export const ATTR_LEN = 15;

export interface MountConfig {
  maxWrite?: number;
  maxReadahead?: number;
  writeback?: boolean;
  readdirplus?: boolean;
  /** the native read path (native/reader.h): its database, statements and reply settings */
  reader?: ReaderConfig;
  /** an overlay's host-backed files are answered from the host (native/host_files.h; hostAdd) */
  hostFiles?: {
    attrTimeout: number;
    entryTimeout: number;
    /** how long the kernel keeps a name the host directory lacks (0: not cached) */
    negativeTimeout: number;
    uid: number;
    gid: number;
    listingMaxAge: number;
    hiddenDirs: string[];
    baseFd?: number;
    basePrefix?: string;
    /** the base root's device: listings holding an entry of another file system stay in JavaScript */
    baseDev?: number;
    /** the base's file system keeps ctimes: a settled host directory's listing holds while its ctime does (handlers/dirs.ts listingStamp) */
    settledListings?: boolean;
    /** the overlay's delta database: GETATTR of its regular files (hostDelta) is answered from it */
    delta?: Pick<ReaderConfig, 'path' | 'chunkSize' | 'sql' | 'atimes' | 'uid' | 'gid' | 'attrTimeout'>;
  };
}

export interface ReaderConfig {
  path: string;
  chunkSize: number;
  sql: SharedReadSql;
  /** statfs's fixed numbers: statfs is answered natively too (the mount's own database only) */
  statfs?: SharedStatfs;
  atimes: boolean;
  uid?: number;
  gid?: number;
  entryTimeout: number;
  attrTimeout: number;
  negativeTimeout: number;
  /** seconds the kernel may keep a listing (0 never, Infinity while unchanged; others: opendir stays in JavaScript) */
  listingMaxAge: number;
  /** read-only opens keep the kernel's pages (outside changes drop them) */
  keepCache: boolean;
  /**
   * false: the database lies under the mountpoint, so a connection opened after the mount (by
   * its path) would wait on the mount itself; only those opened with the reader serve
   */
  openLater?: boolean;
}

export type SessionHandle = { readonly __session: unique symbol };

export interface NativeBinding {
  mount(mountpoint: string, fuseArgs: string[], config: MountConfig, onBatch: (batch: RawRequest[]) => void): SessionHandle;
  destroy(handle: SessionHandle): void;
  exit(handle: SessionHandle): void;
  /** the session stops keeping the process alive (exiting then aborts the connection) */
  unref(handle: SessionHandle): void;
  /** umount2(2); returns 0 or an errno */
  umount(path: string, lazy: boolean): number;
  replyErr(id: number, errno: number): number;
  replyEntry(id: number, attr: Float64Array, entryTimeout: number, attrTimeout: number): number;
  replyCreate(id: number, attr: Float64Array, entryTimeout: number, attrTimeout: number, fh: number, keepCache: boolean, directIo: boolean): number;
  replyAttr(id: number, attr: Float64Array, attrTimeout: number): number;
  replyReadlink(id: number, target: string): number;
  /** cacheReaddir (opendir only): the kernel may cache the directory's listing */
  replyOpen(id: number, fh: number, keepCache: boolean, directIo: boolean, cacheReaddir?: boolean): number;
  replyWrite(id: number, count: number): number;
  /**
   * A WRITE's bytes (64 KiB or more: a Buffer over the request's own memory) are no longer
   * needed: the Buffer is emptied and its memory serves later requests (native/request_bytes.h).
   * false for any other buffer, which is left as it is.
   */
  releaseBytes(data: Uint8Array): boolean;
  /** For AGENTFS_FUSE_STATS: large WRITEs handed over in their own memory, and how many reused memory given back. */
  requestBytesStats(): { shared: number; reused: number };
  replyBuf(id: number, data: Uint8Array | null): number;
  replyStatfs(id: number, st: Float64Array): number;
  /** packs entries ([off, ...attr] per name) until the buffer is full; returns how many went out */
  /** bare[i] (plus only): send entry i as its name only (nodeid 0), the kernel holds its attributes */
  /** hostDir/host: entry i is exactly the host file hostDir/name when host[i] (registered as sent; hostFiles) */
  replyDir(
    id: number,
    size: number,
    names: string[],
    entries: Float64Array,
    plus: boolean,
    entryTimeout: number,
    attrTimeout: number,
    bare?: Uint8Array,
    hostDir?: string,
    host?: Uint8Array,
    dirIno?: number,
  ): number;
  notifyInvalInode(handle: SessionHandle, ino: number, off: number, len: number): number;
  notifyInvalEntry(handle: SessionHandle, parent: number, name: string): number;
  /**
   * a write transaction opened (true) or ended (false): native reads pause meanwhile; true returns
   * once the native opens in flight have queued their OPENED events
   */
  setWriting(handle: SessionHandle, writing: boolean): void;
  /**
   * while on, read-only opens go to JavaScript; on returns once those in flight queued OPENED.
   * Off: quiet says the check found no other process's commit (native reads may then keep
   * their snapshots across requests; undefined: true)
   */
  hold(handle: SessionHandle, on: boolean, quiet?: boolean): void;
  /** an inode's attributes as the open write transaction changed them (answered natively until it ends) */
  changedAttrs(handle: SessionHandle, attr: Float64Array): void;
  /** the open write transaction is about to change a name in dir: native listings of it end first, and stop */
  changingDir(handle: SessionHandle, dir: number): void;
  /** a name is about to be removed in the open write transaction (or the one about to open): read-only opens go to JavaScript until it ends (those in flight waited for) */
  closeOpens(handle: SessionHandle): void;
  /** the open write transaction added, removed or moved this name (native lookups leave it to JavaScript; other names they answer from the database) */
  nameChanged(handle: SessionHandle, parent: number, name: string): void;
  /** ino changed in the open write transaction without its attributes sent: GETATTR goes to JavaScript */
  forgetAttrs(handle: SessionHandle, ino: number): void;
  /**
   * the open write transaction made this directory: native lookups of names it did not add there
   * answer "absent" (base: an overlay's host directory its names would come from, checked too; '' none)
   */
  madeDir(handle: SessionHandle, ino: number, base?: string): void;
  /** an access time held in memory on this side, not stored yet */
  atimePending(handle: SessionHandle, ino: number, sec: number, nsec: number): void;
  /** ino's pending access time (that one; any when sec is undefined) is stored or dropped */
  atimeStored(handle: SessionHandle, ino: number, sec?: number, nsec?: number): void;
  /** [ino, sec, nsec] triples a write transaction's start ended (sec -1: given up); see the addon */
  atimesStored(handle: SessionHandle, times: Float64Array): void;
  /** drops from the kernel's caches what the native reader handed out */
  invalidateServed(handle: SessionHandle): void;
  readerStats(handle: SessionHandle): {
    active: boolean;
    served: number;
    /** GETATTRs answered from the attributes JavaScript sent of what its open transaction changed */
    changesServed: number;
    declined: number;
    listedBare: number;
    /** files whose chunks the native side counted for st_blocks */
    counted: number;
    /** read transactions the native side began (a burst's requests share one) */
    snapshots: number;
    /** requests that met the change watcher's hold and waited for its end (the addon's await_hold) */
    holdWaits: number;
    /** READ replies (every mount of the process) built in memory touched for the first time (reply_buffers.h) */
    replyFresh: number;
    /** the data connections map the database in huge pages (native/sqlite_maps.h huge_maps_pay) */
    hugeMaps: boolean;
    /** requests answered from host files (hostFiles), and those tried and left to JavaScript */
    hostServed: number;
    hostDeclined: number;
    /** of hostServed: host directory listing pages the kernel fetched */
    hostListedPages: number;
    /** an overlay's delta files: GETATTR answered from the delta (hostFiles.delta) */
    deltaActive: boolean;
    deltaServed: number;
    /** an overlay's LOOKUPs of names absent from a directory its open transaction made (made_absent) */
    madeAbsentServed: number;
    /** replies written from the client's CPU (native/reply_writer.h): on, written there, taken back, raised to SCHED_OTHER, stood aside, moves undone */
    replyWriter: boolean;
    repliesWritten: number;
    repliesTakenBack: number;
    replyBoosts: number;
    replyBackoffs: number;
    replyStrandings: number;
    /** whether it pays is tried on the traffic (native/trial.h): trying, trials ended, those that kept it on */
    replyTried: boolean;
    replyTrials: number;
    replyTrialsKeptOn: number;
    /** requests served beside the next ones because parallel threads kept the queue full (the addon's serves_beside) */
    burstServed: number;
    /** whether handing a burst's requests on pays is tried on the traffic (native/trial.h): trying, trials ended, those that kept it */
    burstTried: boolean;
    burstTrials: number;
    burstTrialsKeptOn: number;
    /** opens left to JavaScript because many events already waited for it (the addon's events_full) */
    opensThrottled: number;
    error?: string;
  };
  /** these overlay inodes are exactly these host files now: (ino, S_IFMT type, parent ino) triples and their paths */
  hostAdd(handle: SessionHandle, inoTypes: Float64Array, paths: string[]): void;
  /** host directories list as the host does (no whiteouts): the addon may list them */
  hostListable(handle: SessionHandle, on: boolean): void;
  /** directory ino, showing host directory path ('' if none), lists as its host directory no more (a whiteout in it); returns once no listing is in flight */
  hostUnlistable(handle: SessionHandle, ino: number, path: string): void;
  /** overlay inode ino is the delta's regular file deltaIno (until hostForget) */
  hostDelta(handle: SessionHandle, ino: number, deltaIno: number): void;
  /**
   * ino may no longer be its host file (-1: none may); deltaDir, when not -1: it is now that
   * directory of the delta, a copy of its host directory (its listing's key carries over)
   */
  hostForget(handle: SessionHandle, ino: number, deltaDir?: number): void;
  /** ino is (or no longer is) the number of a copy in the delta: no host entry is listed under it */
  hostCopyNumber(handle: SessionHandle, ino: number, on: boolean): void;
  /**
   * JavaScript's OPENDIR of ino let the kernel keep or fetch its listing under this key (mtime,
   * age period); deltaDir, when not -1: ino is that directory of the delta, whose later opens
   * under the same key the addon answers
   */
  hostDirKey(handle: SessionHandle, ino: number, mtimeSec: number, mtimeNsec: number, epoch: number, deltaDir: number): void;
  /** 1 where the kernel holds the attributes of inos[i] (sent since it last dropped them; see reader.h) */
  heldAttrs(handle: SessionHandle, inos: Float64Array): Uint8Array;
  /** the requests queued and not yet handed to the batch callback */
  drain(handle: SessionHandle): RawRequest[];
  /** the next queued requests, waited for up to `us` microseconds on this thread ([] if none) */
  drainSpin(handle: SessionHandle, us: number): RawRequest[];
  /** gives back the role of reading /dev/fuse that drainSpin may have left with this thread */
  leadEnd(handle: SessionHandle): void;
  /** checkpoints of the database at path on a thread of their own (native/checkpointer.h); throws if it cannot open it */
  walCheckpointer(path: string, minFrames: number, restartFrames: number, idleMs: number): CheckpointerHandle;
  /** a commit happened: the thread checkpoints if minFrames frames wait; the WAL's length (once) when it found it restartFrames long, else 0 (the thread then waits for the next kick: the writer restarts the WAL first) */
  walCheckpointerKick(c: CheckpointerHandle): number;
  /** waits for a checkpoint under way and closes the thread's connection (again: no-op) */
  walCheckpointerStop(c: CheckpointerHandle): { runs: number; maxLog: number; error?: string };
}

/** A checkpoint thread of the addon (opaque). */
export type CheckpointerHandle = { readonly __checkpointer: unique symbol };

let cached: NativeBinding | undefined;

/** The addon's directory: native/ in the package (from dist/fuse or src/fuse, two levels below the root). */
export function nativeDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');
}

/** Where the addon is loaded from: a local build (native/build/Release) or the shipped prebuild. */
export function addonPath(): string {
  const require = createRequire(import.meta.url);
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  try {
    return gypBuild.path(nativeDir());
  } catch {
    throw new FuseUnavailableError(
      `no FUSE addon built for ${process.platform}-${process.arch}; build one with \`cd ${nativeDir()} && npx node-gyp rebuild\` (needs a C++ compiler, python3 and libfuse3-dev)`,
    );
  }
}

/**
 * FUSE cannot work on this machine (no libfuse 3 runtime, no /dev/fuse, no addon for this
 * platform); the message says what to install.
 */
export class FuseUnavailableError extends AgentfsError {
  constructor(message: string) {
    super('unsupported', message);
    this.name = 'FuseUnavailableError';
  }
}

/** The Debian/Ubuntu package with the libfuse 3 runtime and fusermount3. */
export const FUSE_PACKAGE = 'fuse3';

/** Loads the addon (linked against libfuse3.so.3); throws FuseUnavailableError when it cannot. */
export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const file = addonPath();
  try {
    cached = createRequire(import.meta.url)(file) as NativeBinding;
  } catch (e) {
    const message = (e as Error)?.message ?? '';
    if (/libfuse3\.so/.test(message)) {
      throw new FuseUnavailableError(
        `the libfuse 3 runtime is not installed (${message.split(':')[0]?.trim() || 'libfuse3.so.3'}): install the ${FUSE_PACKAGE} package (Debian/Ubuntu: apt-get install ${FUSE_PACKAGE})`,
      );
    }
    throw e;
  }
  return cached;
}

/**
 * Checks that this machine can serve a FUSE mount, before a command creates anything:
 * /dev/fuse, the libfuse 3 runtime (loading the addon links it) and, for a non-root user,
 * fusermount3 (libfuse mounts through it). Throws FuseUnavailableError naming what to install.
 */
export function checkFuse(): void {
  if (!existsSync('/dev/fuse')) {
    throw new FuseUnavailableError(
      `/dev/fuse is missing: FUSE needs the fuse kernel module (modprobe fuse; in a container, pass --device /dev/fuse) and the ${FUSE_PACKAGE} package`,
    );
  }
  loadBinding();
  if (process.getuid?.() !== 0 && !fusermountPath()) {
    throw new FuseUnavailableError(`fusermount3 is not installed: install the ${FUSE_PACKAGE} package (Debian/Ubuntu: apt-get install ${FUSE_PACKAGE})`);
  }
}

/**
 * Where fusermount3 is: libfuse runs it from /usr/bin (its build-time directory) or from PATH,
 * and unmounting uses the same one, so a PATH without /usr/bin mounts and unmounts alike.
 */
export function fusermountPath(): string | undefined {
  const dirs = ['/usr/bin', '/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  return dirs.map((d) => join(d, 'fusermount3')).find((p) => existsSync(p));
}

/**
 * Why a mount failed for a user who is not root, where it can be told: fusermount3 mounts for
 * them only when it is setuid root (a copied or reinstalled-by-hand one is not).
 */
export function mountFailureHint(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  const fusermount = fusermountPath();
  if (!fusermount) return undefined;
  const st = statSync(fusermount);
  if (st.uid === 0 && st.mode & 0o4000) return undefined;
  return `${fusermount} is not setuid root, so it cannot mount for other users: reinstall the ${FUSE_PACKAGE} package (Debian/Ubuntu: apt-get install --reinstall ${FUSE_PACKAGE})`;
}
