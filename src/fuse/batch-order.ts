/**
 * The order in which a batch of kernel requests and addon events is served (FuseServer.serveBatch).
 *
 * The native reader's opens, releases and access times pile up during a read burst, and the
 * request that wakes the JS thread comes with all of them (git status: ~450 before its
 * index.lock). A batch of such events and requests that no open count bears on (AHEAD: they
 * neither remove nor release a file) is served in three groups instead of in its order:
 * - the requests before the open counts (OPENED, RELEASED; 13 us each);
 * - the access times before the requests when a request may answer with, or change, a file the
 *   burst read: a WRITE (its transaction stores the pending times first, and a write moves ctime
 *   past the read, after which the read's time could no longer be stored). Requests that only
 *   make a new entry (CREATE, MKDIR, MKNOD, SYMLINK) or ask for STATFS answer with no file the
 *   burst read, and go first: their transaction's start then does not store the burst's access
 *   times before their reply (git status after a clone: 136 of them, ~1 ms of its CREATE). The
 *   times are stored with a later transaction, or by the lazy flush (core/fs/lazy-atime.ts), as
 *   times noted while a group is open always are.
 */
import { Op, type RawRequest } from './requests.js';

/** Events that count the native reader's opens and releases. */
const COUNTS: ReadonlySet<unknown> = new Set([Op.OPENED, Op.RELEASED]);
/** Requests whose answers no open count bears on (they neither remove nor release a file). */
const AHEAD: ReadonlySet<unknown> = new Set([Op.CREATE, Op.MKDIR, Op.MKNOD, Op.SYMLINK, Op.WRITE, Op.STATFS]);
/** Of those, the ones that answer with no existing file's attributes and change none. */
const NEW_ENTRY: ReadonlySet<unknown> = new Set([Op.CREATE, Op.MKDIR, Op.MKNOD, Op.SYMLINK, Op.STATFS]);
/** Below this many entries a batch is served in its order (a few events cost little). */
const AHEAD_MIN = 16;

/** An event the addon queued (id -1: nobody waits on it). */
const isEvent = (raw: RawRequest): boolean => raw[1] === -1;

/** The batch's groups, in the order they are served (each group in its own order). */
export function batchOrder(batch: RawRequest[]): RawRequest[][] {
  if (batch.length <= AHEAD_MIN) return [batch];
  if (!batch.every((raw) => (isEvent(raw) ? COUNTS.has(raw[0]) || raw[0] === Op.ATIME : AHEAD.has(raw[0])))) return [batch];
  const atimes = batch.filter((raw) => raw[0] === Op.ATIME);
  const requests = batch.filter((raw) => !isEvent(raw));
  const counts = batch.filter((raw) => COUNTS.has(raw[0]));
  const first = requests.every((raw) => NEW_ENTRY.has(raw[0]));
  return first ? [requests, atimes, counts] : [atimes, requests, counts];
}
