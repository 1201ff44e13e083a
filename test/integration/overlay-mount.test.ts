import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { snapshotTree } from '../support/tree-snapshot.js';

/** An overlay agent (`init --base`) seen through a real FUSE mount, across remounts. */
let tmp: { dir: string; cleanup: () => void };
let base: string;
let before: Record<string, string>;

const exec = (script: string) => runCli(['exec', 'ov', 'sh', '-c', script], { cwd: tmp.dir });

beforeAll(async () => {
  tmp = tempDir('agentfs-ovmount-');
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'dir/sub'), { recursive: true });
  writeFileSync(join(base, 'a.txt'), 'alpha\n');
  writeFileSync(join(base, 'dir/b.txt'), 'bravo\n');
  writeFileSync(join(base, 'dir/sub/c.txt'), 'charlie\n');
  mkdirSync(join(base, 'gone'));
  before = snapshotTree(base);
  const init = await runCli(['init', 'ov', '--base', base], { cwd: tmp.dir });
  expect(init.code).toBe(0);
  expect(init.stdout).toContain(`Base directory: ${base}`);
});

afterAll(() => tmp.cleanup());

describe('overlay agent through FUSE', () => {
  it('shows the base, keeps base inode numbers, copies up on write', async () => {
    const ino = lstatSync(join(base, 'a.txt')).ino;
    const r = await exec('stat -c %i a.txt; cat dir/sub/c.txt; echo more >> a.txt; stat -c %i a.txt; cat a.txt');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${ino}\ncharlie\n${ino}\nalpha\nmore\n`);
  });

  it('deletes, renames and creates; all of it survives a remount; the base is untouched', async () => {
    const r = await exec('rm a.txt && mv dir moved && rm moved/b.txt && mkdir moved/new && echo n > moved/new/f && ls -R');
    expect(r.code).toBe(0);
    const again = await exec('ls -R; cat moved/sub/c.txt; test -e a.txt || echo no-a; test -e dir || echo no-dir');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(r.stdout + 'charlie\nno-a\nno-dir\n');
    expect(again.stdout).toContain('./moved/sub:\nc.txt');
    expect(snapshotTree(base)).toEqual(before);
  });

  it('a working directory removed through the mount (from the base, or made there) shows with no link and empty, and nothing can be made in it', async () => {
    const r = await exec(
      'cd gone && rmdir ../gone && stat -c %h . && ls -A . && echo listed; (echo x > f) 2>/dev/null || echo refused; ' +
        'cd .. && mkdir made && cd made && rmdir ../made && stat -c %h . && ls -A . && echo listed',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\nlisted\nrefused\n0\nlisted\n');
    expect(lstatSync(join(base, 'gone')).isDirectory()).toBe(true);
  });

  it('re-creating a deleted path clears its whiteout: a new directory starts empty', async () => {
    const r = await exec('mkdir dir && ls -A dir | wc -l && echo x > a.txt && cat a.txt');
    expect(r.stdout).toBe('0\nx\n');
    const d = await runCli(['diff', 'ov'], { cwd: tmp.dir });
    expect(d.stdout).toContain('M file    a.txt');
    expect(d.stdout).toContain('D file    dir/b.txt');
  });
});
