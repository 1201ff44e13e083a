/**
 * What InodeFs tells an observer (the file-operation journal) after each successful mutating
 * operation. The observer runs inside the operation's transaction, so what it records commits
 * or rolls back together with the change itself.
 */
export interface FsMutation {
  op:
    | 'create' | 'mknod' | 'mkdir' | 'symlink' | 'link' | 'unlink' | 'rmdir' | 'rename' | 'write'
    | 'truncate' | 'chmod' | 'chown' | 'utimens' | 'open' | 'release';
  ino: number;
  /** the path, when parent/name cannot give it (the overlay deleting or moving an entry of its base) */
  path?: string;
  /** a rename's new path, when newParent/newName cannot give it */
  newPath?: string;
  parent?: number;
  name?: string;
  newParent?: number;
  newName?: string;
  offset?: number;
  length?: number;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /**
   * A whole-file write (PathFs.writeFile's direct path, no open/close around it): on a 'write',
   * the write is complete in itself (no burst to coalesce with later writes); on a 'create' or
   * 'truncate', `written` bytes were then written at offset 0 (size `written`), recorded as the
   * 'write' that follows it.
   */
  whole?: boolean;
  written?: number;
}

/**
 * What an InlineRecorder's sql raises (RAISE(ABORT, ...)) when its values, taken before the write
 * lock, are stale under it (another process committed rows stamped later meanwhile): the
 * statement then writes nothing and the operation takes the transaction route, stamped under the lock.
 */
export const INLINE_STALE = 'agentfs: inline values stale under the lock';

/**
 * An observer's rows written by the operation's own statement: the one-statement create of
 * ops/create-alone.ts (no transaction around it, so no observer call could join its commit), and
 * the one-statement unlink, setattr, node and write of ops/unlink-alone.ts, setattr-alone.ts,
 * make-alone.ts and write-alone.ts (fewer statements). The statement's trigger runs `sql` after
 * the operation's own rows are written; it reads the observer's own values as NEW.<columns[i]>
 * and the file as NEW.ino (a create also NEW.parent, NEW.name, NEW.mode, NEW.uid, NEW.gid and
 * NEW.size, the content's length).
 */
export interface InlineRecorder {
  readonly columns: readonly string[];
  readonly sql: string;
  /** the values of `columns` for m (its ino not known yet: 0); undefined: record nothing this way */
  values(m: FsMutation): unknown[] | undefined;
  /** m committed with the rows (m.ino now set): in place of the observer call */
  recorded(m: FsMutation): void;
}

/** The operations an observer can record inside their own statement. */
export interface InlineRecorders {
  /** a create (with the whole content written) */
  readonly create?: InlineRecorder;
  /** one unlink, chmod, chown or utimens, inside a transaction (the stamp taken under the write lock) */
  readonly metadata?: InlineRecorder;
  /**
   * a create, mkdir or mknod with no content, inside a transaction (ops/make-alone.ts): the node
   * as NEW.ino, NEW.mode, NEW.uid and NEW.gid, as made
   */
  readonly node?: InlineRecorder;
  /** a write of whole chunks, or a copy-up's append, inside a transaction (ops/write-alone.ts, ops/copy-in-alone.ts) */
  readonly write?: InlineWriteRecorder;
}

/**
 * The recorder of writes: a write that joins a burst of writes the observer recorded already
 * writes no row (the observer is called as usual); one that starts a burst writes its first row,
 * whose id the observer needs to write the burst's totals later. Its sql reads NEW.offset,
 * NEW.length and NEW.size (the file's size after the write).
 */
export interface InlineWriteRecorder extends InlineRecorder {
  /** whether m joins a burst the observer has open (no row for it: call the observer) */
  joins(m: FsMutation): boolean;
  /** m committed with its row, `row` that row's id */
  recorded(m: FsMutation, row?: number): void;
}

export type MutationObserver = ((m: FsMutation) => void) & { readonly inline?: InlineRecorders };
