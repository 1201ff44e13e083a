/**
 * Interoperability with the Rust AgentFS's own TypeScript SDK (npm agentfs-sdk), run in its own
 * process like any other implementation: what it writes, our CLI and SDK read; what we write,
 * it reads. Both sides open the same SPEC v0.4 file.
 */
import Database from 'libsql';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withOurSdk, withTheirSdk } from '../support/agentfs-sdk-child.js';
import { runCli, tempDir } from '../support/cli.js';

describe('interop with agentfs-sdk', () => {
  let dir: string;
  let cleanup: () => void;
  let file: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    file = join(dir, 'shared.db');
  });
  afterEach(() => cleanup());

  it('agentfs-sdk writes, our CLI and SDK read', async () => {
    const big = randomBytes(3 * 4096 + 123);
    const bigFile = join(dir, 'big.bin');
    writeFileSync(bigFile, big);
    await withTheirSdk(
      file,
      `const { readFileSync } = await import('node:fs');
       await agent.fs.writeFile('/hello.txt', 'Hello from agentfs-sdk');
       await agent.fs.mkdir('/docs');
       await agent.fs.writeFile('/docs/big.bin', readFileSync(${JSON.stringify(bigFile)}));
       await agent.fs.writeFile('/docs/deep/nested.txt', 'nested');
       await agent.fs.symlink('/hello.txt', '/link');`,
    );

    const ls = await runCli(['fs', 'ls', file]);
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toBe('d docs\nf hello.txt\nl link\n');
    expect((await runCli(['fs', 'ls', file, '/docs'])).stdout).toBe('f big.bin\nd deep\n');
    expect((await runCli(['fs', 'cat', file, '/hello.txt'])).stdout).toBe('Hello from agentfs-sdk');
    expect((await runCli(['fs', 'cat', file, '/link'])).stdout).toBe('Hello from agentfs-sdk');
    const tree = JSON.parse((await runCli(['fs', 'tree', file, '--json'])).stdout);
    expect(tree.children.map((c: { name: string }) => c.name)).toEqual(['docs', 'hello.txt', 'link']);
    const st = JSON.parse((await runCli(['fs', 'stat', file, '/docs/big.bin', '--json'])).stdout);
    expect(st).toMatchObject({ type: 'file', size: big.length, mode: '0644', nlink: 1 });

    const ours = await withOurSdk<Record<string, unknown>>(
      file,
      `const r = {
         big: (await fs.readFile('/docs/big.bin')).toString('base64'),
         nested: await fs.readFile('/docs/deep/nested.txt', 'utf8'),
         link: await fs.readlink('/link'),
         isLink: (await fs.lstat('/link')).isSymbolicLink(),
       };
       await fs.writeFile('/docs/ours.txt', 'ours');
       await fs.mkdir('/docs/sub');
       return r;`,
    );
    expect(ours).toEqual({ big: big.toString('base64'), nested: 'nested', link: '/hello.txt', isLink: true });
    const back = await withTheirSdk<{ names: string[]; ours: string }>(
      file,
      `return { names: (await agent.fs.readdir('/docs')).sort(), ours: await agent.fs.readFile('/docs/ours.txt', 'utf8') };`,
    );
    expect(back).toEqual({ names: ['big.bin', 'deep', 'ours.txt', 'sub'], ours: 'ours' });
  });

  it('we write, agentfs-sdk reads (files across chunks, dirs, symlinks, hard links, renames)', async () => {
    const big = randomBytes(5 * 4096 + 77);
    expect((await runCli(['init', file])).code).toBe(0);
    expect((await runCli(['fs', 'write', file, '/notes/today.md', '# hi'])).code).toBe(0);
    const w = await runCli(['fs', 'write', file, '/data/big.bin'], { input: big });
    expect(w.stderr).toBe('');
    expect((await runCli(['fs', 'mkdir', file, '-p', '/a/b/c'])).code).toBe(0);
    await withOurSdk(
      file,
      `await fs.symlink('/notes/today.md', '/today');
       await fs.link('/notes/today.md', '/notes/hard.md');
       await fs.writeFile('/tmp.txt', 'moved');
       await fs.rename('/tmp.txt', '/a/moved.txt');
       const h = await fs.open('/handle.bin', 'w+');
       await h.pwrite(0, Buffer.alloc(4096, 1));
       await h.pwrite(4096, Buffer.alloc(100, 2));
       await h.close();`,
    );
    const r = await withTheirSdk<Record<string, unknown>>(
      file,
      `const fs = agent.fs;
       const hard = await fs.stat('/notes/hard.md');
       const st = await fs.stat('/data/big.bin');
       const h = await fs.readFile('/handle.bin');
       return {
         root: (await fs.readdir('/')).sort(),
         today: await fs.readFile('/notes/today.md', 'utf8'),
         big: (await fs.readFile('/data/big.bin')).toString('base64'),
         link: await fs.readlink('/today'),
         moved: await fs.readFile('/a/moved.txt', 'utf8'),
         hardNlink: hard.nlink,
         sameIno: hard.ino === (await fs.stat('/notes/today.md')).ino,
         bigStat: { isFile: st.isFile(), size: st.size, mode: st.mode },
         bIsDir: (await fs.stat('/a/b')).isDirectory(),
         plus: (await fs.readdirPlus('/notes')).map((e) => e.name).sort(),
         handle: [h.length, h[4095], h[4096]],
         wrote: (await fs.writeFile('/notes/from-them.txt', 'theirs'), true),
       };`,
    );
    expect(r).toEqual({
      root: ['a', 'data', 'handle.bin', 'notes', 'today'],
      today: '# hi',
      big: big.toString('base64'),
      link: '/notes/today.md',
      moved: 'moved',
      hardNlink: 2,
      sameIno: true,
      bigStat: { isFile: true, size: big.length, mode: 0o100644 },
      bIsDir: true,
      plus: ['hard.md', 'today.md'],
      handle: [4196, 1, 2],
      wrote: true,
    });
    expect((await runCli(['fs', 'cat', file, '/notes/from-them.txt'])).stdout).toBe('theirs');
    expect((await runCli(['fs', 'ls', file, '/notes'])).stdout).toBe('f from-them.txt\nf hard.md\nf today.md\n');
    // their engine kept every index we added up to date (one it cannot maintain would rot)
    const db = new Database(file);
    expect(db.prepare('PRAGMA integrity_check').all()).toMatchObject([{ integrity_check: 'ok' }]);
    db.close();
  });
});
