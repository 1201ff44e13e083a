/** What a setattr makes of an inode's row (besides its size): shared by setattr.ts and setattr-alone.ts. */
import { FsError } from '../../errors.js';
import { S_IFMT, type Attr, type Caller, type SetAttr, type Timespec } from '../../types.js';
import type { FsContext } from '../context.js';
import type { FsMutation } from '../mutation.js';
import { noteWritten, rememberBlocks, rowToAttr, storedBlocks, type InodeRow } from '../rows.js';
import { setIdBitsAsked, setIdBitsToDrop } from '../set-id.js';
import { validTimespec } from '../time.js';

function timeOf(v: Timespec | 'now' | undefined, t: Timespec): Timespec | undefined {
  if (v === undefined) return undefined;
  if (v === 'now') return t;
  if (!validTimespec(v)) throw new FsError('EINVAL', 'utimensat', undefined, 'invalid time');
  return v;
}

/** The inode's attributes after a setattr (besides its size), and which kinds of change it makes. */
export interface AttrChange {
  mode: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  chmod: boolean;
  chown: boolean;
  times: boolean;
}

/**
 * What `changes` makes of `row` at time t, undefined when no attribute but the size changes. A
 * truncate (changes.size) moves mtime unless one is given.
 */
export function planAttrs(row: InodeRow, changes: SetAttr, t: Timespec, caller?: Caller): AttrChange | undefined {
  const newUid = idOf(changes.uid, 'owner');
  const newGid = idOf(changes.gid, 'group');
  if (changes.mode !== undefined && !Number.isInteger(changes.mode)) throw new FsError('EINVAL', 'chmod', undefined, 'invalid mode');
  const atime = timeOf(changes.atime, t);
  const mtime = timeOf(changes.mtime, t);
  const chown = newUid !== undefined || newGid !== undefined;
  const drop = changes.mode !== undefined ? 0 : setIdDropped(row, changes, chown, caller);
  const chmod = changes.mode !== undefined || drop !== 0;
  if (!chmod && !chown && !atime && !mtime) return undefined;
  return {
    mode: changes.mode !== undefined ? (row.mode & S_IFMT) | (changes.mode & 0o7777) : row.mode & ~drop,
    uid: newUid ?? row.uid,
    gid: newGid ?? row.gid,
    atime: atime ?? { sec: row.atime, nsec: row.atime_nsec },
    mtime: mtime ?? (changes.size !== undefined ? t : { sec: row.mtime, nsec: row.mtime_nsec }),
    chmod,
    chown,
    times: atime !== undefined || mtime !== undefined,
  };
}

/** The set-id bits a change that gives no mode of its own drops (set-id.ts). */
function setIdDropped(row: InodeRow, changes: SetAttr, chown: boolean, caller: Caller | undefined): number {
  if (chown) return setIdBitsToDrop(row, caller, true);
  if (changes.dropSetId) return setIdBitsAsked(row, caller);
  return changes.size !== undefined ? setIdBitsToDrop(row, caller, false) : 0;
}

/**
 * The owner or group id to set: undefined for none, -1 or 2^32 - 1 (as chown(2) takes (uid_t) -1:
 * unchanged); else 0 to 2^32 - 2, or EINVAL.
 */
function idOf(id: number | undefined, what: string): number | undefined {
  if (id === undefined || id === -1 || id === 0xffffffff) return undefined;
  if (Number.isInteger(id) && id >= 0 && id < 0xffffffff) return id;
  throw new FsError('EINVAL', 'chown', undefined, `invalid ${what} ${String(id)}`);
}

/** The journal's records of a change (in this order). */
export function attrMutations(ino: number, c: AttrChange): FsMutation[] {
  const out: FsMutation[] = [];
  if (c.chmod) out.push({ op: 'chmod', ino, mode: c.mode });
  if (c.chown) out.push({ op: 'chown', ino, uid: c.uid, gid: c.gid });
  if (c.times) out.push({ op: 'utimens', ino });
  return out;
}

/**
 * The attributes after a change to `row` (its data as it was) written at t, without reading the
 * row back; its blocks carry over (tar sets owner, mode and times of every file it writes: no
 * recount for each).
 */
export function attrsWritten(ctx: FsContext, row: InodeRow, c: AttrChange, t: Timespec): Attr {
  ctx.atime.forget(row.ino); // written just now (a pending read time would undo a utimens)
  const blocks = storedBlocks(ctx, row);
  const next: InodeRow = {
    ...row, mode: c.mode, uid: c.uid, gid: c.gid, atime: c.atime.sec, atime_nsec: c.atime.nsec, mtime: c.mtime.sec, mtime_nsec: c.mtime.nsec,
    ctime: t.sec, ctime_nsec: t.nsec,
  };
  rememberBlocks(ctx, next, blocks);
  noteWritten(ctx, next);
  return rowToAttr(ctx, next);
}

