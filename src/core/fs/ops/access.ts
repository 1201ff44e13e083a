import { FsError } from '../../errors.js';
import type { Caller } from '../../types.js';
import { checkAccess } from '../access.js';
import type { FsContext } from '../context.js';
import { requireRow } from '../rows.js';

/** EACCES unless `caller` may do `mask` (R_OK|W_OK|X_OK, or F_OK) to `ino`. */
export function access(ctx: FsContext, ino: number, mask: number, caller: Caller): void {
  const row = requireRow(ctx, ino, 'access');
  if (!checkAccess(row, mask, caller)) throw new FsError('EACCES', 'access');
}
