import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { CLI, run, runCli, tempDir } from '../support/cli.js';

// CLI start-up dominates; the tests use separate agents and run concurrently.
describe.concurrent('agentfs fs (CLI)', () => {
  let dir: string;
  let cleanup: () => void;
  const cli = (args: string[], input?: string | Buffer) => runCli(args, { cwd: dir, input });
  const ok = async (args: string[], input?: string | Buffer) => {
    const r = await cli(args, input);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.code, args.join(' ')).toBe(0);
    return r.stdout;
  };
  const fails = async (args: string[], pattern: RegExp) => {
    const r = await cli(args);
    expect(r.code, args.join(' ')).not.toBe(0);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.startsWith('agentfs: ')).toBe(true);
    expect(r.stderr.trim().split('\n').length).toBe(1);
  };

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    await ok(['init', 'a1']);
  });
  afterAll(() => cleanup());

  it('stops quietly when the reader of its output goes away (| head)', async () => {
    await ok(['fs', 'write', 'a1', '/big.txt'], Buffer.alloc(4 << 20, 'x\n'));
    for (const cmd of ['fs cat a1 /big.txt', 'fs tree a1']) {
      const script = `'${process.execPath}' '${CLI}' ${cmd} | head -c 1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`;
      const r = await run('bash', ['-c', script], { cwd: dir });
      expect(r.stderr, cmd).toBe('');
      // killed by SIGPIPE, as cat would be (128 + 13): quietly, and a pipeline can tell; an
      // output small enough to sit in the pipe before head closes it ends normally
      expect(r.stdout, cmd).toMatch(cmd.startsWith('fs cat') ? /^status=141\n$/ : /^status=(0|141)\n$/);
    }
  });

  it('write and cat, as in the reference examples', async () => {
    await ok(['fs', 'write', 'a1', '/hello.txt', 'Hello, world!']);
    expect(await ok(['fs', 'cat', 'a1', '/hello.txt'])).toBe('Hello, world!');
    // id-first order too, and the database path instead of the id
    expect(await ok(['fs', 'a1', 'cat', '/hello.txt'])).toBe('Hello, world!');
    expect(await ok(['fs', 'cat', join(dir, '.agentfs', 'a1.db'), 'hello.txt'])).toBe('Hello, world!');
    expect(await ok(['fs', 'cat', '.agentfs/a1.db', '/hello.txt'])).toBe('Hello, world!');
  });

  it('write from stdin (omitted CONTENT or -), binary-exact, creating parents; --append', async () => {
    await ok(['init', 'a2']);
    const bin = randomBytes(3 * 1024 * 1024 + 17);
    await ok(['fs', 'write', 'a2', '/bin/blob'], bin);
    const r = await runCli(['fs', 'cat', 'a2', '/bin/blob'], { cwd: dir });
    expect(Buffer.from(r.stdout, 'latin1').length).toBeGreaterThan(0);
    const st = JSON.parse(await ok(['fs', 'stat', 'a2', '/bin/blob', '--json']));
    expect(st.size).toBe(bin.length);
    await ok(['fs', 'write', 'a2', '/deep/er/x.txt', '-'], 'from stdin\n');
    expect(await ok(['fs', 'cat', 'a2', '/deep/er/x.txt'])).toBe('from stdin\n');
    await ok(['fs', 'write', 'a2', '/deep/er/x.txt', 'more\n', '--append']);
    expect(await ok(['fs', 'cat', 'a2', '/deep/er/x.txt'])).toBe('from stdin\nmore\n');
    await ok(['fs', 'write', 'a2', '/deep/er/x.txt', 'replaced']);
    expect(await ok(['fs', 'cat', 'a2', '/deep/er/x.txt'])).toBe('replaced');
  });

  it('cat streams binary content byte for byte', async () => {
    await ok(['init', 'a3']);
    const bin = randomBytes(200_000);
    await ok(['fs', 'write', 'a3', '/b2'], bin);
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../support/cli.js');
    const out: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const c = spawn(process.execPath, [CLI, 'fs', 'cat', 'a3', '/b2'], { cwd: dir });
      c.stdout.on('data', (d: Buffer) => out.push(d));
      c.on('error', reject);
      c.on('close', () => resolve());
    });
    expect(Buffer.concat(out).equals(bin)).toBe(true);
  });

  it('ls prints `f name` / `d name` / `l name` sorted; -l long form; --json; a file path lists the file', async () => {
    await ok(['init', 'ls1']);
    await ok(['fs', 'write', 'ls1', '/config.json', '{}']);
    await ok(['fs', 'write', 'ls1', '/output.txt', 'out']);
    await ok(['fs', 'mkdir', 'ls1', '/artifacts']);
    await ok(['fs', 'ln', 'ls1', '-s', 'output.txt', '/latest']);
    expect(await ok(['fs', 'ls', 'ls1'])).toBe('d artifacts\nf config.json\nl latest\nf output.txt\n');
    expect(await ok(['fs', 'ls1', 'ls', '/'])).toBe('d artifacts\nf config.json\nl latest\nf output.txt\n');
    expect(await ok(['fs', 'ls', 'ls1', '/artifacts'])).toBe('');
    const long = (await ok(['fs', 'ls', 'ls1', '-l'])).trim().split('\n');
    expect(long[0]).toMatch(/^drwxr-xr-x +2 +\d+ +\d+ +0 \d{4}-\d\d-\d\d \d\d:\d\d artifacts$/);
    expect(long[2]).toMatch(/^lrwxrwxrwx .* latest -> output\.txt$/);
    expect(long[3]).toMatch(/^-rw-r--r-- +1 .* 3 .* output\.txt$/);
    const json = JSON.parse(await ok(['fs', 'ls', 'ls1', '--json']));
    expect(json.map((e: { name: string; type: string }) => [e.name, e.type])).toEqual([
      ['artifacts', 'directory'], ['config.json', 'file'], ['latest', 'symlink'], ['output.txt', 'file'],
    ]);
    expect(json[2].target).toBe('output.txt');
    expect(json[3]).toMatchObject({ size: 3, mode: '0644', nlink: 1 });
    expect(await ok(['fs', 'ls', 'ls1', '/output.txt'])).toBe('f output.txt\n');
  });

  it('mkdir [-p], rm [-r] [-f], mv, cp, chmod, touch', async () => {
    await ok(['init', 'ops']);
    await fails(['fs', 'mkdir', 'ops', '/a/b'], /ENOENT.*\/a\/b/);
    await ok(['fs', 'mkdir', 'ops', '-p', '/a/b/c']);
    await ok(['fs', 'mkdir', 'ops', '-p', '/a/b/c']);
    await fails(['fs', 'mkdir', 'ops', '/a'], /EEXIST/);
    await ok(['fs', 'write', 'ops', '/a/f', 'F']);
    await fails(['fs', 'rm', 'ops', '/a'], /EISDIR/);
    await fails(['fs', 'rm', 'ops', '/missing'], /ENOENT/);
    await ok(['fs', 'rm', 'ops', '-f', '/missing']);
    await ok(['fs', 'mv', 'ops', '/a/f', '/g']);
    expect(await ok(['fs', 'cat', 'ops', '/g'])).toBe('F');
    await ok(['fs', 'mv', 'ops', '/g', '/a/b']); // into an existing directory
    expect(await ok(['fs', 'cat', 'ops', '/a/b/g'])).toBe('F');
    await ok(['fs', 'write', 'ops', '/h', 'H']);
    await fails(['fs', 'mv', 'ops', '-n', '/h', '/a/b/g'], /EEXIST/);
    await fails(['fs', 'mv', 'ops', '/a', '/a/b/c/x'], /EINVAL/);
    await ok(['fs', 'cp', 'ops', '-r', '/a', '/copy']);
    expect(await ok(['fs', 'cat', 'ops', '/copy/b/g'])).toBe('F');
    await ok(['fs', 'chmod', 'ops', '600', '/h']);
    expect(JSON.parse(await ok(['fs', 'stat', 'ops', '/h', '--json'])).mode).toBe('0600');
    await fails(['fs', 'chmod', 'ops', '9z', '/h'], /invalid mode/);
    await ok(['fs', 'touch', 'ops', '/t']);
    expect(JSON.parse(await ok(['fs', 'stat', 'ops', '/t', '--json'])).size).toBe(0);
    await ok(['fs', 'rm', 'ops', '-r', '/a']);
    expect(await ok(['fs', 'ls', 'ops'])).toBe('d copy\nf h\nf t\n');
    await fails(['fs', 'rm', 'ops', '-r', '/'], /root/);
  });

  it('stat shows type, size, links and nanosecond times; --json', async () => {
    await ok(['init', 'st']);
    await ok(['fs', 'write', 'st', '/f', 'abc']);
    const text = await ok(['fs', 'stat', 'st', '/f']);
    expect(text).toMatch(/File: \/f/);
    expect(text).toMatch(/Type: file/);
    expect(text).toMatch(/Size: 3/);
    expect(text).toMatch(/Links: 1/);
    expect(text).toMatch(/Modify: .*\(\d+\.\d{9}\)/);
    const j = JSON.parse(await ok(['fs', 'stat', 'st', '/', '--json']));
    expect(j).toMatchObject({ ino: 1, type: 'directory', mode: '0755', nlink: 2 });
  });

  it('a type no file has (written by another program) is a file in ls, stat and stat --json alike', async () => {
    await ok(['init', 'odd']);
    await ok(['fs', 'write', 'odd', '/x', 'abc']);
    const a = Agent.open({ path: join(dir, '.agentfs', 'odd.db') });
    try {
      a.store.db.prepare('UPDATE fs_inode SET mode = ? WHERE ino = ?').run(0o030644, a.paths.lstat('/x').ino);
    } finally {
      a.close();
    }
    expect(await ok(['fs', 'ls', 'odd'])).toBe('f x\n');
    expect(await ok(['fs', 'stat', 'odd', '/x'])).toMatch(/Type: file\n/);
    expect(JSON.parse(await ok(['fs', 'stat', 'odd', '/x', '--json']))).toMatchObject({ type: 'file', mode: '0644' });
  });

  it('tree draws the hierarchy; -L limits depth; --json nests', async () => {
    await ok(['init', 'tr']);
    await ok(['fs', 'write', 'tr', '/a/b/c.txt', 'x']);
    await ok(['fs', 'write', 'tr', '/a/d.txt', 'x']);
    await ok(['fs', 'write', 'tr', '/z.txt', 'x']);
    expect(await ok(['fs', 'tree', 'tr'])).toBe(
      ['/', '├── a', '│   ├── b', '│   │   └── c.txt', '│   └── d.txt', '└── z.txt', '', '2 directories, 3 files', ''].join('\n'),
    );
    expect(await ok(['fs', 'tree', 'tr', '/a', '-L', '1'])).toBe(['/a', '├── b', '└── d.txt', '', '1 directory, 1 file', ''].join('\n'));
    const j = JSON.parse(await ok(['fs', 'tree', 'tr', '--json']));
    expect(j.children[0]).toMatchObject({ name: 'a', type: 'directory', children: [{ name: 'b', children: [{ name: 'c.txt', size: 1 }] }, { name: 'd.txt' }] });
  });

  it('an overlay agent copies trees like a plain one (cp -r checks ancestry with .. lookups)', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const base = join(dir, 'cp-base');
    mkdirSync(join(base, 'x', 'sub'), { recursive: true });
    writeFileSync(join(base, 'x', 'sub', 'f'), 'from base');
    await ok(['init', 'ov1', '--base', base]);
    await ok(['fs', 'mkdir', 'ov1', '-p', '/w']);
    await ok(['fs', 'cp', '-r', 'ov1', '/x', '/w/z']);
    expect(await ok(['fs', 'cat', 'ov1', '/w/z/sub/f'])).toBe('from base');
    await fails(['fs', 'cp', '-r', 'ov1', '/x', '/x/sub/in'], /EINVAL: cannot copy a directory into itself/);
    // a missing destination parent is named, not the source
    await fails(['fs', 'cp', '-r', 'ov1', '/x', '/nowhere/z'], /ENOENT: no such file or directory, cp \/nowhere\/z/);
  });

  it('a stdin write that fails leaves the file another process put at its path meanwhile', async () => {
    await ok(['init', 'race']);
    const { spawn } = await import('node:child_process');
    const writer = spawn(process.execPath, [CLI, 'fs', 'write', 'race', '/f'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    writer.stderr.on('data', (d: Buffer) => (err += d.toString()));
    writer.stdin.on('error', () => undefined); // it stops reading when its write fails
    const exited = new Promise<number | null>((r) => writer.on('close', r));
    writer.stdin.write('first'); // the file exists once the writer has opened it
    for (let i = 0; i < 100 && !(await cli(['fs', 'ls', 'race', '/'])).stdout.includes('f f'); i++) await new Promise((r) => setTimeout(r, 50));
    await ok(['fs', 'write', 'race', '/g', 'important data']);
    await ok(['fs', 'mv', 'race', '/g', '/f']);
    writer.stdin.end(Buffer.alloc(2 << 20, 'y')); // its next piece finds its file gone
    expect(await exited).toBe(1);
    expect(err).toBe('agentfs: ENOENT: the file was removed or replaced by another process while being written, write /f\n');
    expect(await ok(['fs', 'cat', 'race', '/f'])).toBe('important data');
  });

  it('bad input: unknown agent, missing paths, directories, long names, bad ids', async () => {
    await ok(['init', 'a4']);
    await ok(['fs', 'write', 'a4', '/hello.txt', 'x']);
    await ok(['fs', 'mkdir', 'a4', '/deep']);
    await fails(['fs', 'ls', 'no-such-agent'], /no such agent 'no-such-agent'/);
    await fails(['fs', 'cat', 'a4', '/nope'], /ENOENT: no such file or directory, open \/nope/);
    await fails(['fs', 'cat', 'a4', '/deep'], /EISDIR/);
    await fails(['fs', 'ls', 'a4', '/hello.txt/x'], /ENOTDIR/);
    await fails(['fs', 'write', 'a4', `/${'n'.repeat(256)}`, 'x'], /ENAMETOOLONG/);
    await fails(['fs', 'ls', 'bad id!'], /invalid agent id/);
    await fails(['fs', 'ls', join(dir, 'missing.db')], /no such database/);
  });
});
