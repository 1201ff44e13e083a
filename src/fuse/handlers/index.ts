import { Op } from '../binding.js';
import type { RequestOf } from '../requests.js';
import type { Handler } from '../state.js';
import * as attrs from './attrs.js';
import * as names from './names.js';
import * as files from './files.js';
import * as dirs from './dirs.js';

/** Per request kind, the handler of exactly that request (the compiler checks each pairing). */
const TABLE: { readonly [K in keyof RequestOf]?: Handler<RequestOf[K]> } = {
  [Op.LOOKUP]: attrs.lookup,
  [Op.GETATTR]: attrs.getattr,
  [Op.SETATTR]: attrs.setattr,
  [Op.READLINK]: attrs.readlink,
  [Op.ACCESS]: attrs.access,
  [Op.STATFS]: attrs.statfs,
  [Op.MKNOD]: names.mknod,
  [Op.MKDIR]: names.mkdir,
  [Op.SYMLINK]: names.symlink,
  [Op.LINK]: names.link,
  [Op.UNLINK]: names.unlink,
  [Op.RMDIR]: names.rmdir,
  [Op.RENAME]: names.rename,
  [Op.OPEN]: files.open,
  [Op.CREATE]: files.create,
  [Op.READ]: files.read,
  [Op.WRITE]: files.write,
  [Op.RELEASE]: files.release,
  [Op.FSYNC]: files.fsync,
  [Op.FALLOCATE]: files.fallocate,
  [Op.OPENDIR]: dirs.opendir,
  [Op.READDIR]: dirs.readdir,
  [Op.READDIRPLUS]: dirs.readdirplus,
  [Op.RELEASEDIR]: dirs.releasedir,
  [Op.FSYNCDIR]: dirs.fsyncdir,
};

/** Request kind -> handler (a request of that kind is what the handler gets). */
export const HANDLERS: ReadonlyMap<number, Handler> = new Map(Object.entries(TABLE).map(([op, h]) => [Number(op), h as Handler]));

/**
 * Requests that change the database (worth grouping into one transaction). Not RELEASE: most
 * change nothing (a file that was only read), and an open group would send the native reads to
 * JavaScript until it commits; the few that write (an orphan's purge, a journal burst's end) join
 * an open group or make a transaction of their own.
 */
export const MUTATING: ReadonlySet<number> = new Set<number>([
  Op.SETATTR, Op.MKNOD, Op.MKDIR, Op.SYMLINK, Op.LINK, Op.UNLINK, Op.RMDIR, Op.RENAME, Op.CREATE, Op.WRITE, Op.FALLOCATE,
]);

/** Requests that must run outside any open transaction (durability points). */
export const SYNCING: ReadonlySet<number> = new Set<number>([Op.FSYNC, Op.FSYNCDIR]);
