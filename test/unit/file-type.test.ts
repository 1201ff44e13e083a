/**
 * One mode-to-type vocabulary (issue #12): the ls letter, the stat-JSON word, the diff/UI word and
 * the NFS ftype all come from one table, so every adapter names a file's type the same way.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileType, typeLetter, typeName } from '../../src/core/file-type.js';
import { statJson } from '../../src/core/stat-json.js';
import { ftypeOf, modeTypeOf, NF3BLK, NF3CHR, NF3DIR, NF3FIFO, NF3LNK, NF3REG, NF3SOCK } from '../../src/nfs/attrs.js';
import { ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK } from '../../src/core/types.js';
import { ME, fsFixture, type FsFixture } from '../support/fs-fixture.js';

const ALL = [
  // bits, short, letter, word, NFS
  [S_IFREG, 'file', 'f', 'file', NF3REG],
  [S_IFDIR, 'dir', 'd', 'directory', NF3DIR],
  [S_IFLNK, 'symlink', 'l', 'symlink', NF3LNK],
  [S_IFIFO, 'fifo', 'p', 'fifo', NF3FIFO],
  [S_IFSOCK, 'socket', 's', 'socket', NF3SOCK],
  [S_IFCHR, 'char', 'c', 'char-device', NF3CHR],
  [S_IFBLK, 'block', 'b', 'block-device', NF3BLK],
] as const;

describe('file types', () => {
  it('every type has one short name, one ls letter, one stat word and one NFS ftype', () => {
    for (const [bits, short, letter, word, nfs] of ALL) {
      const mode = bits | 0o640;
      expect([fileType(mode), typeLetter(mode), typeName(mode), ftypeOf(mode), modeTypeOf(nfs)]).toEqual([short, letter, word, nfs, bits]);
    }
    expect(modeTypeOf(99)).toBeUndefined();
  });

  it('type bits no file has read as a regular file everywhere (stat said "unknown" while ls said "f")', () => {
    const odd = 0o030000 | 0o644;
    expect([fileType(odd), typeLetter(odd), typeName(odd), ftypeOf(odd)]).toEqual(['file', 'f', 'file', NF3REG]);
  });
});

describe('statJson', () => {
  let fx: FsFixture;
  beforeEach(() => {
    fx = fsFixture();
  });
  afterEach(() => fx.cleanup());

  it('is the `fs stat --json` object: octal mode, ISO times and exact ns strings', () => {
    const dev = fx.fs.mknod(ROOT_INO, 'tty', S_IFCHR | 0o4620, (4 << 8) | 1, ME);
    fx.fs.setattr(dev.ino, { mtime: { sec: 1_700_000_000, nsec: 5 } });
    const a = fx.paths.lstat('/tty');
    expect(statJson(a)).toEqual({
      ino: a.ino,
      type: 'char-device',
      mode: '04620',
      nlink: 1,
      uid: ME.uid,
      gid: ME.gid,
      size: 0,
      blocks: 0,
      rdev: (4 << 8) | 1,
      atime: new Date(a.atime.sec * 1000 + Math.floor(a.atime.nsec / 1e6)).toISOString(),
      mtime: '2023-11-14T22:13:20.000Z',
      ctime: new Date(a.ctime.sec * 1000 + Math.floor(a.ctime.nsec / 1e6)).toISOString(),
      atime_ns: `${a.atime.sec}.${String(a.atime.nsec).padStart(9, '0')}`,
      mtime_ns: '1700000000.000000005',
      ctime_ns: `${a.ctime.sec}.${String(a.ctime.nsec).padStart(9, '0')}`,
    });
  });
});
