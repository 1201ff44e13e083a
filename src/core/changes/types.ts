import type { FileType } from '../file-type.js';

export type { FileType };
export type ChangeStatus = 'A' | 'M' | 'D';

/** One difference between the merged view and the base, at an overlay path ('/a/b'). */
export interface Change {
  path: string;
  status: ChangeStatus;
  /** type in the merged view (A, M) or in the base (D) */
  type: FileType;
  /** for M: the base's type when it differs */
  oldType?: FileType;
  /** for M: what differs ('content', 'mode', 'owner', 'mtime', 'target', 'type') */
  what?: string[];
  /** size in the merged view (A, M) */
  size?: number;
  /** size in the base (M, D) */
  oldSize?: number;
  /** M of another name of a hard-linked base file: the changed name whose copy this one shows */
  linkedFrom?: string;
}
