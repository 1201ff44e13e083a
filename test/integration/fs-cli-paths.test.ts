/**
 * Path resolution in `agentfs fs` (issue #10, items 12 and 13): `..` never creates a directory
 * as a side effect, and each command fails with the errno POSIX gives for the same path.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { runCli, tempDir } from '../support/cli.js';

describe.concurrent('agentfs fs: paths', () => {
  const tmp = tempDir('agentfs-paths-');
  const db = (id: string) => join(tmp.dir, `${id}.db`);
  const cli = (args: string[]) => runCli(args, { cwd: tmp.dir });
  const ok = async (...args: string[]) => {
    const r = await cli(args);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.code, args.join(' ')).toBe(0);
    return r.stdout;
  };
  /** fails with one line `agentfs: CODE: ...` */
  const fails = async (code: string, ...args: string[]) => {
    const r = await cli(args);
    expect(r.code, args.join(' ')).not.toBe(0);
    expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^agentfs: ${code}: `));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  };
  const names = (id: string, dir = '/') => {
    const a = Agent.open({ path: db(id) });
    try {
      return a.paths.readdir(dir);
    } finally {
      a.close();
    }
  };

  beforeAll(async () => {
    for (const id of ['w', 'm', 'c', 'e']) await ok('init', db(id));
    for (const id of ['w', 'm', 'c', 'e']) {
      await ok('fs', 'write', db(id), '/file', 'data');
      await ok('fs', 'mkdir', db(id), '/dir');
    }
  });
  afterAll(() => tmp.cleanup());

  it('write: `..` after a missing directory creates nothing but the file', async () => {
    const w = db('w');
    await ok('fs', 'write', w, '/a/../b', 'x');
    expect(await ok('fs', 'cat', w, '/b')).toBe('x');
    await ok('fs', 'write', w, '/p/q/../../r/s/../t', 'y');
    expect(await ok('fs', 'cat', w, '/r/t')).toBe('y');
    await ok('fs', 'write', w, '/dir/../u', 'z', '--append');
    await ok('fs', 'write', w, '/g/h/../i', '-');
    expect(names('w')).toEqual(['b', 'dir', 'file', 'g', 'r', 'u']);
    expect(names('w', '/g')).toEqual(['i']);
    expect(names('w', '/r')).toEqual(['t']);
  });

  it('mkdir -p and cp -r: `..` after a missing directory creates nothing extra', async () => {
    const m = db('m');
    await ok('fs', 'mkdir', m, '/x/../y', '-p');
    await ok('fs', 'mkdir', m, '/k/l/../../n/o', '-p');
    await ok('fs', 'write', m, '/dir/f', 'in dir');
    await ok('fs', 'cp', m, '/dir', '/z/../copy', '-r');
    expect(await ok('fs', 'cat', m, '/copy/f')).toBe('in dir');
    expect(names('m')).toEqual(['copy', 'dir', 'file', 'n', 'y']);
    expect(names('m', '/n')).toEqual(['o']);
  });

  it('write: ENOTDIR under a file, ENOENT for an empty path, EISDIR for a directory', async () => {
    const w = db('e');
    await fails('ENOTDIR', 'fs', 'write', w, '/file/under', 'x');
    await fails('ENOTDIR', 'fs', 'write', w, '/file/under/deeper', 'x');
    await fails('ENOTDIR', 'fs', 'write', w, '/file/', 'x');
    await fails('ENOTDIR', 'fs', 'write', w, '/file/under', 'x', '--append');
    await fails('ENOENT', 'fs', 'write', w, '', 'x');
    await fails('EISDIR', 'fs', 'write', w, '/dir', 'x');
    expect(await ok('fs', 'cat', w, '/file')).toBe('data');
    expect(names('e')).toEqual(['dir', 'file']);
  });

  it('the other fs commands give the POSIX errno for the same paths', async () => {
    const c = db('c');
    for (const [code, args] of [
      ['ENOTDIR', ['mkdir', c, '/file/sub']],
      ['ENOTDIR', ['mkdir', c, '/file/sub', '-p']],
      ['ENOENT', ['mkdir', c, '/missing/sub']],
      ['EEXIST', ['mkdir', c, '/file']],
      ['EEXIST', ['mkdir', c, '/file', '-p']],
      ['ENOENT', ['mkdir', c, '']],
      ['ENOTDIR', ['rm', c, '/file/x']],
      ['ENOENT', ['rm', c, '/missing']],
      ['ENOENT', ['rm', c, '']],
      ['ENOTDIR', ['mv', c, '/file/x', '/y']],
      ['ENOTDIR', ['mv', c, '/file', '/file/x']],
      ['ENOENT', ['mv', c, '/missing', '/y']],
      ['ENOENT', ['mv', c, '', '/y']],
      ['ENOENT', ['mv', c, '/file', '']],
      ['ENOTDIR', ['cp', c, '/file/x', '/y']],
      ['ENOTDIR', ['cp', c, '/file', '/file/x']],
      ['ENOENT', ['cp', c, '/file', '/missing/x']],
      ['ENOENT', ['cp', c, '', '/y']],
      ['ENOENT', ['cp', c, '/file', '']],
      ['ENOTDIR', ['cat', c, '/file/x']],
      ['EISDIR', ['cat', c, '/dir']],
      ['ENOENT', ['cat', c, '']],
      ['ENOTDIR', ['ls', c, '/file/x']],
      ['ENOENT', ['ls', c, '']],
      ['ENOTDIR', ['stat', c, '/file/x']],
      ['ENOENT', ['stat', c, '']],
      ['ENOTDIR', ['touch', c, '/file/x']],
      ['ENOENT', ['touch', c, '']],
      ['ENOTDIR', ['tree', c, '/file']],
      ['ENOENT', ['tree', c, '']],
      ['ENOTDIR', ['ln', c, '/file', '/file/x']],
      ['ENOENT', ['ln', c, '-s', 't', '']],
      ['ENOTDIR', ['chmod', c, '600', '/file/x']],
      // a trailing slash names a directory
      ['ENOTDIR', ['mv', c, '/file/', '/x']],
      ['ENOTDIR', ['mv', c, '/file', '/y/']],
      ['ENOTDIR', ['rm', c, '/file/']],
      ['ENOTDIR', ['rm', c, '/file/', '-r']],
      ['ENOTDIR', ['cat', c, '/file/']],
      ['ENOTDIR', ['stat', c, '/file/']],
      ['ENOTDIR', ['touch', c, '/file/']],
      ['ENOTDIR', ['ls', c, '/file/']],
      ['ENOTDIR', ['cp', c, '/file', '/file/']],
      ['EEXIST', ['mkdir', c, '/file/']],
      ['ENOENT', ['ln', c, '-s', 't', '/q/']],
      ['ENOENT', ['ln', c, '/file', '/q/']],
    ] as [string, string[]][]) {
      await fails(code, 'fs', ...args);
    }
    expect(names('c')).toEqual(['dir', 'file']);
    expect(await ok('fs', 'cat', c, '/file')).toBe('data');
  });
});
