import type { Attr } from '../../types.js';
import type { FsContext } from '../context.js';
import { attrOf } from '../rows.js';

/** The attributes of inode `ino` (ENOENT when it is gone). */
export function getattr(ctx: FsContext, ino: number): Attr {
  return attrOf(ctx, ino, 'getattr');
}
