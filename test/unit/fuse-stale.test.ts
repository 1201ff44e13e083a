import { describe, expect, it } from 'vitest';
import { constants as osConstants } from 'node:os';
import { Op } from '../../src/fuse/requests.js';
import { errnoForKernel } from '../../src/fuse/stale.js';

const { ENOENT, ESTALE, EACCES } = osConstants.errno;

describe('the errno a FUSE request gets for a gone inode (fuse/stale.ts)', () => {
  it('is ESTALE for a request that names only an inode, so the kernel looks the name up again', () => {
    for (const op of [Op.GETATTR, Op.SETATTR, Op.OPEN, Op.READ, Op.WRITE, Op.OPENDIR, Op.READDIRPLUS, Op.READLINK, Op.ACCESS]) {
      expect(errnoForKernel(op, ENOENT)).toBe(ESTALE);
    }
  });

  it('stays ENOENT where a name is asked for, and leaves every other errno as it is', () => {
    for (const op of [Op.LOOKUP, Op.UNLINK, Op.RMDIR, Op.RENAME, Op.CREATE, Op.MKDIR, Op.LINK, Op.SYMLINK, Op.MKNOD]) {
      expect(errnoForKernel(op, ENOENT)).toBe(ENOENT);
    }
    expect(errnoForKernel(Op.OPEN, EACCES)).toBe(EACCES);
  });
});
