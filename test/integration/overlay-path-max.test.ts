import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/cli.js';

/**
 * Issue 10 item 17: paths legal inside an overlay (up to PATH_MAX and beyond, reached with
 * relative steps) work whatever the length of the base directory's own path, through a mount of
 * an `init --base` agent and inside `run`.
 */
let tmp: { dir: string; cleanup: () => void };
let base: string;
let script: string;

/** A Python helper that walks with chdir, so no single syscall sees a long path. */
const DEEP = String.raw`
import os, sys

def plan(total):
    # dirs of 200 bytes and a last name, so that '/' + '/'.join(dirs + [name]) has total bytes
    k = max(0, -(-(total - 1 - 255) // 201))
    return ['d' * 200] * k, 'f' + 'x' * (total - 2 - 201 * k)

def walk(dirs, make):
    for d in dirs:
        if make:
            try: os.mkdir(d)
            except FileExistsError: pass
        os.chdir(d)

root = os.getcwd()
cmd = sys.argv[1]
if cmd == 'base':
    # a base file deep enough that base path + overlay path is far beyond PATH_MAX
    walk(['e' * 200] * 19, True)
    open('deep.txt', 'w').write('deep in the base\n')
    os.symlink('deep.txt', 'link')
elif cmd == 'base-state':
    names = sorted(n[:1] if n.startswith('e') else n for n in os.listdir('.'))
    walk(['e' * 200] * 19, False)
    print(names, open('deep.txt').read())
elif cmd == 'create':
    for total in map(int, sys.argv[2:]):
        os.chdir(root)
        dirs, name = plan(total)
        walk(dirs, True)
        with open(name, 'w') as f: f.write('%d\n' % total)
        assert name in os.listdir('.'), 'not listed'
        os.rename(name, name[:-1] + 'Y')
        os.rename(name[:-1] + 'Y', name)
        print('created', total, open(name).read().strip())
elif cmd == 'check':
    for total in map(int, sys.argv[2:]):
        os.chdir(root)
        dirs, name = plan(total)
        walk(dirs, False)
        print('found', total, open(name).read().strip(), os.stat(name).st_size)
    os.chdir(root)
    walk(['e' * 200] * 19, False)
    print('base', open('deep.txt').read().strip(), sorted(os.listdir('.')), os.readlink('link'))
    with open('deep.txt', 'a') as f: f.write('appended\n')
    print('copied up', open('deep.txt').read().replace('\n', '|'))
`;

const LENGTHS = ['4094', '4095', '4096', '4097', '6000'];

beforeAll(async () => {
  tmp = tempDir('agentfs-pathmax-');
  script = join(tmp.dir, 'deep.py');
  writeFileSync(script, DEEP);
  // the base's own path: about 3 KiB
  base = join(tmp.dir, ...Array.from({ length: 12 }, (_, i) => `base${i}`.padEnd(240, 'b')));
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'top.txt'), 'top\n');
  const r = await run('python3', [script, 'base'], { cwd: base });
  expect(r.stderr).toBe('');
});

// deeper than PATH_MAX: rm(1) walks with openat, node's rmSync would fail
afterAll(async () => {
  if (tmp) await run('rm', ['-rf', '--', tmp.dir]);
});

describe('overlay paths at PATH_MAX', () => {
  it('a mounted base agent creates, lists, renames and reads them, and reads deep base files', async () => {
    expect((await runCli(['init', 'ov', '--base', base], { cwd: tmp.dir })).code).toBe(0);
    const create = await runCli(['exec', 'ov', 'python3', script, 'create', ...LENGTHS], { cwd: tmp.dir });
    expect(create.stderr).toBe('');
    expect(create.stdout).toBe(LENGTHS.map((l) => `created ${l} ${l}\n`).join(''));
    // again in a new mount: from the database, and the base file deep below
    const check = await runCli(['exec', 'ov', 'python3', script, 'check', ...LENGTHS], { cwd: tmp.dir });
    expect(check.stderr).toBe('');
    expect(check.stdout).toBe(
      LENGTHS.map((l) => `found ${l} ${l} ${l.length + 1}\n`).join('') + 'base deep in the base [\'deep.txt\', \'link\'] deep.txt\ncopied up deep in the base|appended|\n',
    );
    // the base itself is untouched
    expect((await run('python3', [script, 'base-state'], { cwd: base })).stdout).toBe("['e', 'top.txt'] deep in the base\n\n");
  }, 120_000);

  it('inside run, where the base is read by its own (long) path', async () => {
    const env = { AGENTFS_HOME: join(tmp.dir, 'home') };
    const r = await runCli(['run', '--session', 'deep', '--', 'python3', script, 'create', ...LENGTHS], { cwd: base, env });
    expect(r.stdout).toBe(LENGTHS.map((l) => `created ${l} ${l}\n`).join(''));
    expect(r.code).toBe(0);
    const c = await runCli(['run', '--session', 'deep', '--', 'sh', '-c', `python3 ${script} check ${LENGTHS.join(' ')}; cat top.txt`], { cwd: base, env });
    expect(c.stdout).toBe(
      LENGTHS.map((l) => `found ${l} ${l} ${l.length + 1}\n`).join('') + 'base deep in the base [\'deep.txt\', \'link\'] deep.txt\ncopied up deep in the base|appended|\ntop\n',
    );
    expect((await run('python3', [script, 'base-state'], { cwd: base })).stdout).toBe("['e', 'top.txt'] deep in the base\n\n");
  }, 120_000);

  it('commit writes them into the base, however long the host path', async () => {
    const r = await runCli(['commit', 'ov'], { cwd: tmp.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const check = await run('python3', [script, 'check', ...LENGTHS], { cwd: base });
    expect(check.stderr).toBe('');
    expect(check.stdout).toBe(
      LENGTHS.map((l) => `found ${l} ${l} ${l.length + 1}\n`).join('') + 'base deep in the base\nappended [\'deep.txt\', \'link\'] deep.txt\ncopied up deep in the base|appended|appended|\n',
    );
    expect((await runCli(['diff', 'ov'], { cwd: tmp.dir })).stdout).toBe('');
    // deleting a deep directory tree through the overlay removes it from the base on commit
    const rm = await runCli(['exec', 'ov', 'rm', '-rf', 'd'.repeat(200)], { cwd: tmp.dir });
    expect(rm.stderr).toBe('');
    const r2 = await runCli(['commit', 'ov'], { cwd: tmp.dir });
    expect(r2.stderr).toBe('');
    expect((await run('python3', [script, 'base-state'], { cwd: base })).stdout).toBe("['e', 'top.txt'] deep in the base\nappended\nappended\n\n");
  }, 120_000);
});
