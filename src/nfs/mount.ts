/**
 * The MOUNT protocol, version 3 (RFC 1813 appendix I): MNT hands out the file handle of the
 * exported directory. The export is the agent's root; a client may also mount any directory
 * below it by path (libnfs mounts the directory part of its URLs).
 */
import { isFsError } from '../core/errors.js';
import { isDir, type Attr } from '../core/types.js';
import { AUTH_SYS, type Procedure, type RpcProgram } from './rpc.js';
import type { NfsState } from './state.js';

export const MOUNT_PROGRAM = 100005;
export const MOUNT_V3 = 3;

const MNT3_OK = 0;
const MNT3ERR_NOENT = 2;
const MNT3ERR_IO = 5;
const MNT3ERR_NOTDIR = 20;
const MNT3ERR_NAMETOOLONG = 63;
const MNTPATHLEN = 1024;
/** most (client, path) pairs remembered for DUMP (at most ~1 MiB of paths) */
const MAX_MOUNT_ENTRIES = 1024;

export const EXPORT_PATH = '/';

/** The directory a mount path names inside the agent (symlinks are not followed). */
function resolveExport(s: NfsState, path: string): Attr {
  let attr = s.fs.getattr(s.fs.rootIno);
  for (const name of path.split('/').filter((p) => p.length > 0 && p !== '.')) {
    attr = s.fs.lookup(attr.ino, name);
  }
  return attr;
}

export function mountProgram(s: NfsState): RpcProgram {
  /** client address -> paths it mounted (DUMP); forgotten at UMNT/UMNTALL */
  const mounts = new Map<string, Set<string>>();
  /** entries in `mounts`: bounded in all (any 127/8 address reaches a loopback server) */
  let entries = 0;
  const host = (remote: string): string => remote.replace(/:\d+$/, '');

  const mnt: Procedure = (r, w, ctx) => {
    const raw = r.opaque(MNTPATHLEN + 1);
    if (raw.length > MNTPATHLEN) {
      w.uint32(MNT3ERR_NAMETOOLONG);
      return;
    }
    const path = raw.toString('utf8');
    let attr: Attr;
    try {
      attr = resolveExport(s, path);
    } catch (e) {
      w.uint32(isFsError(e, 'ENOENT') ? MNT3ERR_NOENT : isFsError(e, 'ENOTDIR') ? MNT3ERR_NOTDIR : MNT3ERR_IO);
      return;
    }
    if (!isDir(attr.mode)) {
      w.uint32(MNT3ERR_NOTDIR);
      return;
    }
    const key = path || '/';
    const set = mounts.get(host(ctx.remote));
    if (entries < MAX_MOUNT_ENTRIES && !set?.has(key)) {
      if (set) set.add(key);
      else mounts.set(host(ctx.remote), new Set([key]));
      entries++;
    }
    w.uint32(MNT3_OK);
    w.opaque(s.handles.encode(attr.ino));
    w.uint32(1).uint32(AUTH_SYS); // auth_flavors
  };

  const dump: Procedure = (_r, w) => {
    for (const [h, paths] of mounts) for (const p of paths) w.bool(true).string(h).string(p);
    w.bool(false);
  };

  const umnt: Procedure = (r, _w, ctx) => {
    const path = r.opaque(MNTPATHLEN).toString('utf8');
    const set = mounts.get(host(ctx.remote));
    if (set?.delete(path || '/')) entries--;
    if (set?.size === 0) mounts.delete(host(ctx.remote));
  };

  const umntall: Procedure = (_r, _w, ctx) => {
    entries -= mounts.get(host(ctx.remote))?.size ?? 0;
    mounts.delete(host(ctx.remote));
  };

  const exports: Procedure = (_r, w) => {
    // one export, open to every host (no groups)
    w.bool(true).string(EXPORT_PATH).bool(false);
    w.bool(false);
  };

  return {
    prog: MOUNT_PROGRAM,
    vers: MOUNT_V3,
    procedures: [() => {}, mnt, dump, umnt, umntall, exports],
  };
}
