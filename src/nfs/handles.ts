/**
 * NFS file handles: 'A' 'F', a format byte, a reserved byte, the database's generation
 * (8 random bytes kept in agentfs_meta, so handles stay valid across server restarts and a handle
 * from another database is recognised as stale), then the inode number (8 bytes).
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import { NFS3ERR, NfsError } from './errors.js';
import { AgentfsError } from '../errors.js';

export const HANDLE_LENGTH = 20;
/** the largest nfs_fh3 a client may send (RFC 1813 NFS3_FHSIZE) */
export const FHSIZE3 = 64;
const MAGIC0 = 0x41;
const MAGIC1 = 0x46;
const FORMAT = 1;
const TWO32 = 2 ** 32;

/** agentfs_meta key of the database's handle generation (16 hex digits). */
export const GENERATION_KEY = 'nfs.generation';

/** The database's handle generation, created (once, at the first NFS serve) when missing. */
export function handleGeneration(store: Store): Buffer {
  const valid = (v: string | undefined): v is string => v !== undefined && /^[0-9a-f]{16}$/.test(v);
  const have = store.getMeta(GENERATION_KEY);
  if (valid(have)) return Buffer.from(have, 'hex');
  try {
    // read again inside the write transaction: another server starting on the same database at
    // the same moment may have stored one since (both must use the one stored)
    return store.transaction(() => {
      const now = store.getMeta(GENERATION_KEY);
      if (valid(now)) return Buffer.from(now, 'hex');
      const gen = randomBytes(8);
      store.setMeta(GENERATION_KEY, gen.toString('hex'));
      return gen;
    });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if ((typeof code === 'string' && code.startsWith('SQLITE_READONLY')) || code === 'read-only') {
      throw new AgentfsError('read-only', `${store.path} is read-only, and serving it the first time stores its file handle generation in it`);
    }
    throw e;
  }
}

export class Handles {
  constructor(readonly generation: Buffer) {}

  encode(ino: number): Buffer {
    const b = Buffer.allocUnsafe(HANDLE_LENGTH);
    b[0] = MAGIC0;
    b[1] = MAGIC1;
    b[2] = FORMAT;
    b[3] = 0;
    this.generation.copy(b, 4);
    b.writeUInt32BE(Math.floor(ino / TWO32), 12);
    b.writeUInt32BE(ino >>> 0, 16);
    return b;
  }

  /** The inode a handle names: BADHANDLE if it is not one of ours, STALE if from another database. */
  decode(fh: Buffer): number {
    if (fh.length !== HANDLE_LENGTH || fh[0] !== MAGIC0 || fh[1] !== MAGIC1 || fh[2] !== FORMAT || fh[3] !== 0) {
      throw new NfsError(NFS3ERR.BADHANDLE, 'not a file handle of this server');
    }
    if (!this.generation.equals(fh.subarray(4, 12))) throw new NfsError(NFS3ERR.STALE, 'a file handle of another database');
    const hi = fh.readUInt32BE(12);
    const ino = hi * TWO32 + fh.readUInt32BE(16);
    if (ino === 0 || hi >= 0x200000) throw new NfsError(NFS3ERR.BADHANDLE, 'bad inode number in file handle');
    return ino;
  }
}
