import { FsError } from '../errors.js';
import type { OverlayParts } from './parts.js';

/**
 * The delta root starts as a copy of the base root's attributes (mode, owner, times); `force`
 * copies them again (discard of everything).
 */
export function adoptBaseRoot(o: OverlayParts, force = false): void {
  const rootDelta = o.delta.rootIno;
  if (!force && o.origins.baseIno(rootDelta) !== undefined) return;
  const st = o.base.lstat('/');
  if (!st) throw new FsError('ENOENT', 'overlay', o.base.dir, 'base directory is missing');
  if (o.store.readOnly) return; // a viewer shows the delta root as it is; the next writer adopts
  o.store.transaction(() => {
    // bookkeeping, not a change of the merged view: not journaled
    o.delta.unobserved(() => o.delta.setattr(rootDelta, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atime: { ...st.atime }, mtime: { ...st.mtime } }));
    o.origins.record(rootDelta, '/', st);
  });
}
