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
    const ts = (ns: bigint) => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });
    o.delta.setattr(rootDelta, { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), atime: ts(st.atimeNs), mtime: ts(st.mtimeNs) });
    o.origins.record(rootDelta, '/', st);
  });
}
