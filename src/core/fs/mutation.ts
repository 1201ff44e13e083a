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
  /** the path, when parent/name cannot give it (the overlay deleting an entry of its base) */
  path?: string;
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

export type MutationObserver = (m: FsMutation) => void;
