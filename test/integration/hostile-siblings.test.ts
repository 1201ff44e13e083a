/**
 * Siblings of issue #10's hostile-input findings, found by attacking the fixed build from outside
 * the test suite: each case here failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { forceUnmount, isAlive, mountBg } from '../support/fuse.js';
import { CLI, ROOT, run, runCli, tempDir } from '../support/cli.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('agentfs-siblings-'));
});
afterAll(() => cleanup());

const cli = (...args: string[]) => runCli(args, { cwd: dir });
const sqlite = (db: string, sql: string) => run('sqlite3', [db, sql], { cwd: dir });

/** Unlinked inodes, and their data or their orphan rows: two counts, both 0 once all is freed. */
const LEFT_DATA = 'SELECT count(*) FROM fs_inode WHERE nlink = 0; SELECT count(*) FROM fs_data;';
const LEFT_ORPHANS = 'SELECT count(*) FROM fs_inode WHERE nlink = 0; SELECT count(*) FROM agentfs_fs_orphan;';

/** Waits (5 s at most) for both counts of `sql` to be 0: a mount frees what it let go at its next check. */
async function expectFreed(db: string, sql: string): Promise<void> {
  const left = async () => (await sqlite(db, sql)).stdout;
  for (let i = 0; i < 50 && (await left()) !== '0\n0\n'; i++) await new Promise((res) => setTimeout(res, 100));
  expect(await left()).toBe('0\n0\n');
}

/** Another process holding a write transaction on db until release() is called. */
async function holdWriteLock(db: string): Promise<{ release: () => Promise<void> }> {
  const locker: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', `
    import Database from 'libsql';
    const db = new Database(${JSON.stringify(db)});
    db.exec("BEGIN IMMEDIATE; INSERT INTO kv_store (key, value) VALUES ('uncommitted', '1')");
    process.stdout.write('locked\\n');
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
    process.stdin.resume();
  `], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    locker.stdout!.once('data', () => resolve());
    locker.once('exit', (code) => reject(new Error(`locker exited ${code}`)));
  });
  return {
    release: async () => {
      locker.stdin!.end();
      await new Promise((r) => locker.once('close', r));
    },
  };
}

describe('sync status and stats only look (sibling of item 7)', () => {
  it('work while another process holds a write transaction; a writer is told the file is locked, not damaged', async () => {
    const db = join(dir, 'locked.db');
    const remote = join(dir, 'locked-remote.db');
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/f', 'x')).code).toBe(0);
    expect((await cli('sync', 'push', db, '--remote', `file:${remote}`)).code).toBe(0);
    const lock = await holdWriteLock(db);
    try {
      for (const argv of [
        ['sync', 'status', db],
        ['sync', 'status', db, '--json'],
        ['sync', 'stats', db],
      ]) {
        const r = await cli(...argv);
        expect({ argv, stderr: r.stderr, code: r.code }).toEqual({ argv, stderr: '', code: 0 });
      }
      const w = await cli('kv', 'set', db, 'k', '1');
      expect(w.code).toBe(1);
      expect(w.stderr).toBe(`agentfs: ${db} is locked: another process holds a write transaction on it (waited 5 s); try again when it is done\n`);
    } finally {
      await lock.release();
    }
  });
});

describe('text that is not UTF-8, written into the database by another program (sibling of item 2)', () => {
  // libsql aborts the process (a Rust panic, exit 134) when it reads such text
  let db: string;
  beforeAll(async () => {
    db = join(dir, 'foreign-bytes.db');
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/good', 'x')).code).toBe(0);
    expect((await cli('kv', 'set', db, 'fine', '1')).code).toBe(0);
    const r = await sqlite(db, `
      INSERT INTO fs_inode (mode, nlink, atime, mtime, ctime) VALUES (33188, 1, 0, 0, 0);
      INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (CAST(x'6261642dff' AS TEXT), 1, last_insert_rowid());
      INSERT INTO fs_inode (mode, nlink, atime, mtime, ctime) VALUES (41471, 1, 0, 0, 0);
      INSERT INTO fs_symlink (ino, target) VALUES (last_insert_rowid(), CAST(x'74ff' AS TEXT));
      INSERT INTO fs_dentry (name, parent_ino, ino) VALUES ('sl', 1, last_insert_rowid());
      INSERT INTO kv_store (key, value) VALUES (CAST(x'6bff' AS TEXT), '1');`);
    expect(r.stderr).toBe('');
  });

  it.each([
    [['fs', 'ls', 'DB', '/'], /^agentfs: EILSEQ: a name in this directory is not valid UTF-8 .*, scandir \/\n$/],
    [['fs', 'ls', '-l', 'DB', '/'], /^agentfs: EILSEQ: a name in this directory is not valid UTF-8/],
    [['fs', 'tree', 'DB', '/'], /^agentfs: EILSEQ: a name in this directory is not valid UTF-8/],
    [['fs', 'stat', 'DB', '/sl'], /^agentfs: EILSEQ: the symlink target is not valid UTF-8 .*, readlink \/sl\n$/],
    [['kv', 'list', 'DB'], /^agentfs: a kv key is not valid UTF-8/],
    [['kv', 'list', 'DB', '--json'], /^agentfs: a kv key is not valid UTF-8/],
  ])('%j: one line, no abort', async (argv, message) => {
    const r = await cli(...argv.map((a) => (a === 'DB' ? db : a)));
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n').length).toBe(2);
    expect(r.code).toBe(1);
  });

  it('timeline, sync push and sync pull of a file: remote check first and say which row', async () => {
    const calls = join(dir, 'foreign-calls.db');
    expect((await cli('init', calls)).code).toBe(0);
    expect((await sqlite(calls, `INSERT INTO tool_calls (name, parameters, status, started_at) VALUES (CAST(x'74ff' AS TEXT), '{}', 'success', 1)`)).stderr).toBe('');
    for (const argv of [['timeline', calls], ['timeline', calls, '--stats']]) {
      const r = await cli(...argv);
      expect({ argv, signal: r.signal, code: r.code, stderr: r.stderr }).toEqual({
        argv, signal: null, code: 1,
        stderr: `agentfs: ${calls}: tool_calls.name of row 1 is not valid UTF-8 (written by another program, or damaged); fix or delete that row with sqlite3\n`,
      });
    }
    const remote = join(dir, 'foreign-remote.db');
    const push = await cli('sync', 'push', db, '--remote', `file:${remote}`);
    expect(push.signal).toBeNull();
    expect(push.stderr).toMatch(/^agentfs: .*foreign-bytes\.db: fs_dentry\.name of row \d+ is not valid UTF-8/);
    expect(existsSync(remote)).toBe(false); // nothing made

    const clean = join(dir, 'clean.db');
    expect((await cli('init', clean)).code).toBe(0);
    expect((await cli('kv', 'set', clean, 'k', '"v"')).code).toBe(0);
    expect((await cli('sync', 'push', clean, '--remote', `file:${remote}`)).code).toBe(0);
    expect((await sqlite(remote, `UPDATE kv_store SET value = CAST(x'22ff22' AS TEXT)`)).stderr).toBe('');
    const fresh = join(dir, 'fresh.db');
    expect((await cli('init', fresh)).code).toBe(0);
    for (const action of ['pull', 'status', 'push']) {
      const r = await cli('sync', action, fresh, '--remote', `file:${remote}`);
      expect({ action, signal: r.signal, code: r.code }).toEqual({ action, signal: null, code: 1 });
      expect(r.stderr).toMatch(/^agentfs: remote file:\/\/\/.*foreign-remote\.db: kv_store\.value of row 1 is not valid UTF-8 .*\n$/);
    }
  });

  it('what can be named still works', async () => {
    expect((await cli('fs', 'cat', db, '/good')).stdout).toBe('x');
    expect((await cli('kv', 'get', db, 'fine')).stdout).toBe('1\n');
  });

  it('a mount answers EILSEQ for the listing and keeps serving', async () => {
    const mnt = join(dir, 'foreign-mnt');
    mkdirSync(mnt);
    const pid = await mountBg(db, mnt);
    try {
      const r = await run('sh', ['-c', 'ls mnt; echo "ls=$?"; readlink mnt/sl; echo "readlink=$?"; cat mnt/good'.replaceAll('mnt', mnt)]);
      expect(r.stderr).toMatch(/reading directory .*: Invalid or incomplete multibyte or wide character/);
      expect(r.stdout).toBe('ls=2\nreadlink=1\nx');
      expect(isAlive(pid)).toBe(true);
    } finally {
      await forceUnmount(mnt, pid);
    }
  });
});

describe('output that cannot be written (sibling of item 8)', () => {
  it.each([
    ['fs', 'cat', 'DB', '/f'],
    ['fs', 'ls', 'DB', '/'],
    ['kv', 'list', 'DB', '--json'],
    ['timeline', 'DB'],
  ])('%s %s into /dev/full: one line and status 1, no stack trace', async (...argv) => {
    const db = join(dir, 'full.db');
    if (!existsSync(db)) {
      expect((await cli('init', db)).code).toBe(0);
      expect((await cli('fs', 'write', db, '/f', 'x'.repeat(100_000))).code).toBe(0);
      expect((await cli('kv', 'set', db, 'k', '1')).code).toBe(0);
    }
    const line = argv.map((a) => `'${a === 'DB' ? db : a}'`).join(' ');
    const r = await run('sh', ['-c', `node '${CLI}' ${line} > /dev/full; echo "status=$?" >&2`]);
    expect(r.stderr).toBe('agentfs: cannot write to standard output: ENOSPC: no space left on device\nstatus=1\n');
  });
});

describe('a current directory that cannot be named', () => {
  it('deeper than PATH_MAX: an absolute database path works, an id or relative path says why in one line', async () => {
    const db = join(dir, 'deep.db');
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/f', 'x')).code).toBe(0);
    const name = 'd'.repeat(200);
    const script = `cd '${dir}' && i=0; while [ $i -lt 25 ]; do mkdir -p ${name} && cd ${name} || exit 9; i=$((i+1)); done
      node '${CLI}' fs cat '${db}' /f; echo " abs=$?"
      node '${CLI}' kv list '${db}'; echo "kv=$?"
      node '${CLI}' fs cat deep.db /f; echo "rel=$?"
      node '${CLI}' init some-id; echo "id=$?"
      cd '${dir}' && rm -rf ${name}`; // GNU rm walks by descriptors; Node's rmSync cannot
    const r = await run('bash', ['-c', script]);
    expect(r.stdout).toBe('x abs=0\nkv=0\nrel=1\nid=1\n');
    const line = "agentfs: the current directory's path is longer than PATH_MAX (4096 bytes): run agentfs from a shorter path, or name the database by an absolute path\n";
    expect(r.stderr).toBe(line + line);
  });

  it('removed: one line', async () => {
    const gone = join(dir, 'gone');
    const r = await run('bash', ['-c', `mkdir '${gone}' && cd '${gone}' && rmdir '${gone}' && node '${CLI}' fs ls some-id; echo "status=$?"`]);
    expect(r.stdout).toBe('status=1\n');
    expect(r.stderr).toBe('agentfs: the current directory no longer exists (it was removed): cd to an existing directory\n');
  });
});

describe('an overlay directory whose base holds names that are not UTF-8 (sibling of item 2)', () => {
  it('is not empty: rm -r stops at it (changing nothing: rm -r is atomic), and commit never deletes the files the agent could not see', async () => {
    const base = join(dir, 'unnamed-base');
    mkdirSync(join(base, 'd'), { recursive: true });
    writeFileSync(Buffer.concat([Buffer.from(`${base}/d/bad`), Buffer.from([0xff])]), 'precious');
    writeFileSync(join(base, 'd', 'seen'), 'x');
    const db = join(dir, 'unnamed.db');
    expect((await cli('init', db, '--base', base)).code).toBe(0);
    const rm = await cli('fs', 'rm', db, '-r', '/d');
    expect(rm.stderr).toBe('agentfs: ENOTEMPTY: directory not empty, rm /d\n');
    expect(rm.code).toBe(1);
    expect((await cli('commit', db)).code).toBe(0);
    const left = readdirSync(join(base, 'd'), { encoding: 'buffer' }).map((b) => b.toString('hex')).sort();
    expect(left).toEqual([Buffer.from('bad\xff', 'latin1').toString('hex'), Buffer.from('seen').toString('hex')]);
  });
});

describe('a remote that answers an error with a whole page (sibling of item 9)', () => {
  it('shows at most 300 characters of it, escaped, on one line', async () => {
    const body = `\x1b[2J error ${'A'.repeat(100_000)}\nsecond line`;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const db = join(dir, 'page.db');
      expect((await cli('init', db)).code).toBe(0);
      const r = await cli('sync', 'push', db, '--remote', `http://127.0.0.1:${port}`, '--timeout', '5');
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').length).toBe(2);
      expect(r.stderr).toMatch(/^agentfs: remote http:\/\/127\.0\.0\.1:\d+ failed: .*HTTP status 400: \\033\[2J error A+\.\.\. \(\d+ more characters\)\n$/);
      expect(r.stderr.length).toBeLessThan(600);
    } finally {
      server.close();
    }
  });
});

describe('kv numbers through MCP (sibling of item 11)', () => {
  it('kv_set refuses numbers JSON.parse would change, and stores the rest', async () => {
    const db = join(dir, 'mcp-numbers.db');
    expect((await cli('init', db)).code).toBe(0);
    const call = (id: number, key: string, value: string) =>
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"kv_set","arguments":{"key":"${key}","value":${value}}}}`;
    const input = [
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
      call(2, 'big', '123456789012345678901234567890'),
      call(3, 'negzero', '-0'),
      call(4, 'tiny', '{"x":[1e-400]}'),
      call(5, 'fine', '{"n":1.5,"m":[1,2e3,-7]}'),
    ].join('\n') + '\n';
    const r = await runCli(['serve', 'mcp', db], { cwd: dir, input });
    const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; error?: { code: number; message: string } });
    const byId = new Map(replies.map((m) => [m.id, m]));
    expect(byId.get(2)?.error).toEqual({ code: -32602, message: expect.stringMatching(/^Invalid params for tools\/call: kv_set: number 123456789012345678901234567890 cannot be stored exactly/) });
    expect(byId.get(3)?.error).toEqual({ code: -32602, message: expect.stringMatching(/kv_set: number -0: -0 would read back as 0/) });
    expect(byId.get(4)?.error).toEqual({ code: -32602, message: expect.stringMatching(/kv_set: number 1e-400 cannot be stored exactly/) });
    expect(byId.get(5)?.error).toBeUndefined();
    const list = JSON.parse((await cli('kv', 'list', db, '--json')).stdout) as { key: string; value: unknown }[];
    expect(list.map((e) => [e.key, e.value])).toEqual([['fine', { n: 1.5, m: [1, 2000, -7] }]]);
    // every call is in the audit trail, the refused ones as failed calls saying why
    const calls = JSON.parse((await cli('timeline', db, '--calls', '--format', 'json')).stdout).reverse() as { name: string; status: string; error: string | null }[];
    expect(calls.map((c) => [c.name, c.status])).toEqual([['kv_set', 'error'], ['kv_set', 'error'], ['kv_set', 'error'], ['kv_set', 'success']]);
    expect(calls[0]!.error).toMatch(/^invalid arguments for kv_set: number 123456789012345678901234567890 cannot be stored exactly/);
  });
});

describe('a kv value on stdin that is not UTF-8 (sibling of item 2)', () => {
  it('is refused, not stored as U+FFFD', async () => {
    const db = join(dir, 'kv-stdin.db');
    expect((await cli('init', db)).code).toBe(0);
    const r = await runCli(['kv', 'set', db, 'k'], { cwd: dir, input: Buffer.from([0x61, 0x62, 0xff, 0x63]) });
    expect(r.stderr).toMatch(/^agentfs: EILSEQ: the value on stdin is not valid UTF-8 .*\n$/);
    expect(r.code).toBe(1);
    expect((await cli('kv', 'get', db, 'k')).stderr).toMatch(/no such key/);
    const ok = await runCli(['kv', 'set', db, 'k'], { cwd: dir, input: '"é"\n' });
    expect(ok.code).toBe(0);
    expect((await cli('kv', 'get', db, 'k')).stdout).toBe('é\n');
  });
});

describe('a damaged run session record', () => {
  it('ps, diff and timeline go on without it instead of a TypeError', async () => {
    const home = join(dir, 'home');
    const base = join(dir, 'session-base');
    mkdirSync(base, { recursive: true });
    const env = { HOME: home };
    const run1 = await runCli(['run', '--session', 'dmg', '--', 'sh', '-c', 'echo x > made'], { cwd: base, env });
    expect(run1.code).toBe(0);
    const record = join(home, '.agentfs', 'sessions', 'dmg.json');
    for (const text of ['{}', '{"id":"dmg","database":5}', 'null', '[]', 'garbage{']) {
      writeFileSync(record, text);
      const ps = await runCli(['ps'], { cwd: base, env });
      const diff = await runCli(['diff', 'dmg'], { cwd: base, env });
      const tl = await runCli(['timeline', 'dmg', '--limit', '1'], { cwd: base, env });
      expect({ text, ps: [ps.code, ps.stderr], diff: [diff.code, diff.stdout, diff.stderr], tl: [tl.code, tl.stderr] }).toEqual({
        text, ps: [0, ''], diff: [0, 'A file    made\n', ''], tl: [0, ''],
      });
    }
  });
});

describe('a file open through a mount, removed by another process (sibling of item 1)', () => {
  it('keeps its data for the open descriptor until it is closed, then goes', async () => {
    const db = join(dir, 'unlink-open.db');
    const mnt = join(dir, 'unlink-open-mnt');
    mkdirSync(mnt);
    expect((await cli('init', db)).code).toBe(0);
    const pid = await mountBg(db, mnt);
    try {
      // python holds /f open through the mount while the CLI removes it (and /other, not open)
      const script = `
import os, subprocess, sys
open('${mnt}/other', 'w').write('x')
fd = os.open('${mnt}/f', os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b'hello world'); os.fsync(fd)
r = subprocess.run([sys.argv[1], sys.argv[2], 'fs', 'rm', '${db}', '/f', '/other'], capture_output=True, text=True)
print('rm', r.returncode, r.stderr.strip())
os.lseek(fd, 0, 0); print('read', os.read(fd, 100).decode())
os.write(fd, b'!'); print('size', os.fstat(fd).st_size, 'links', os.fstat(fd).st_nlink)
os.close(fd)
`;
      const r = await run('python3', ['-c', script, process.execPath, CLI]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('rm 0 \nread hello world\nsize 12 links 0\n');
      // nothing is left once closed: the mount frees it at the last release
      await expectFreed(db, LEFT_DATA);
    } finally {
      await forceUnmount(mnt, pid);
    }
  });
});

describe('a file opened read-only through a mount (the native read path opens it), removed by another process', () => {
  it('keeps its data for the open descriptor until it is closed, then goes', async () => {
    const db = join(dir, 'unlink-ro-open.db');
    const mnt = join(dir, 'unlink-ro-open-mnt');
    mkdirSync(mnt);
    expect((await cli('init', db)).code).toBe(0);
    const pid = await mountBg(db, mnt);
    try {
      // written, then left alone past the group commit: the read-only opens are the native side's
      const script = `
import os, subprocess, sys, time
open('${mnt}/f', 'w').write('hello world ' * 1000)
time.sleep(0.3)
fds = [os.open('${mnt}/f', os.O_RDONLY) for _ in range(3)]
r = subprocess.run([sys.argv[1], sys.argv[2], 'fs', 'rm', '${db}', '/f'], capture_output=True, text=True)
print('rm', r.returncode, r.stderr.strip())
time.sleep(0.5)  # the mount sees the outside change and frees what it does not hold
for fd in fds: print('read', len(os.pread(fd, 20000, 0)), os.fstat(fd).st_nlink)
for fd in fds: os.close(fd)
`;
      const r = await run('python3', ['-c', script, process.execPath, CLI]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('rm 0 \n' + 'read 12000 0\n'.repeat(3));
      await expectFreed(db, LEFT_DATA);
    } finally {
      await forceUnmount(mnt, pid);
    }
  });
});

describe('a name another process renames over again and again, read through a mount meanwhile', () => {
  it('opens, stats and reads it without a failure, and each held descriptor keeps its version', async () => {
    // Each rename leaves the file it replaced to the mount (its orphan). Before: the mount freed
    // one at a release while a handle the addon had opened was not counted yet (that handle's
    // reads failed, ENOENT), and an open through the kernel's entry for the old file failed
    // ENOENT where a fresh lookup finds the new one (44 failures in 85,000 opens).
    const db = join(dir, 'rename-over.db');
    const mnt = join(dir, 'rename-over-mnt');
    mkdirSync(mnt);
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/name', 'v-start')).code).toBe(0);
    const pid = await mountBg(db, mnt);
    try {
      const writer = run(process.execPath, ['--input-type=module', '-e', `
const { AgentFS } = await import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
const a = await AgentFS.open({ path: process.argv[1] });
const end = Date.now() + 6500;
let n = 0;
while (Date.now() < end) { await a.fs.writeFile('/tmp.x', 'v' + n); await a.fs.rename('/tmp.x', '/name'); n++; }
await a.close();
process.stdout.write(String(n));`, '--', db], { timeoutMs: 60_000 });
      // one reader opens, reads and closes in a tight loop; then another stats, and keeps five
      // descriptors open, each of which must read its version to the end
      const READER = `
import errno, os, sys, time
p, held_n = sys.argv[1], int(sys.argv[2]); end = time.time() + 3; n = 0; bad = {}; held = []
while time.time() < end:
    try:
        if held_n: os.stat(p)
        fd = os.open(p, os.O_RDONLY)
        first = os.read(fd, 100)
        if not held_n:
            os.close(fd)
        else:
            held.append((fd, first))
        if len(held) > held_n:
            fd0, first = held.pop(0)
            if os.pread(fd0, 100, 0) != first: bad['changed'] = bad.get('changed', 0) + 1
            os.close(fd0)
    except OSError as e:
        bad[errno.errorcode[e.errno]] = bad.get(errno.errorcode[e.errno], 0) + 1
    n += 1
print(n, sorted(bad.items()))`;
      const read = (held: number) => run('python3', ['-c', READER, join(mnt, 'name'), String(held)], { timeoutMs: 60_000 });
      const readers = (async () => [await read(0), await read(5)])();
      const [w, rs] = await Promise.all([writer, readers]);
      expect(w.stderr).toBe('');
      expect(Number(w.stdout)).toBeGreaterThan(500);
      for (const r of rs) {
        expect(r.stderr).toBe('');
        const [, opens, failures] = /^(\d+) (.*)$/.exec(r.stdout.trim()) ?? [];
        expect(Number(opens)).toBeGreaterThan(1000);
        expect(failures).toBe('[]');
      }
      // every replaced version is freed once no descriptor holds it
      await expectFreed(db, LEFT_ORPHANS);
    } finally {
      await forceUnmount(mnt, pid);
    }
  });
});

describe('a file open through two mounts of one database, removed by another process or by one of the mounts', () => {
  it('stays readable through each descriptor until the last is closed, then goes', async () => {
    // Before: the file went to the live mount with the lowest pid only, which did not hold it
    // and freed it: a descriptor of the other mount read "Stale file handle" (ENOENT before that).
    const db = join(dir, 'two-mounts.db');
    const [ma, mb] = [join(dir, 'two-ma'), join(dir, 'two-mb')];
    mkdirSync(ma);
    mkdirSync(mb);
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/f', 'version-one')).code).toBe(0);
    expect((await cli('fs', 'write', db, '/g', 'gee')).code).toBe(0);
    const pa = await mountBg(db, ma);
    const pb = await mountBg(db, mb);
    try {
      const script = `
import os, subprocess, sys, time
cli = [sys.argv[1], sys.argv[2]]
fa, fb = os.open('${ma}/f', os.O_RDONLY), os.open('${mb}/f', os.O_RDWR)
ga, gb = os.open('${ma}/g', os.O_RDONLY), os.open('${mb}/g', os.O_RDONLY)
# another process renames over /f; mount a removes /g itself
for args in (['fs', 'write', '${db}', '/f.new', 'version-two'], ['fs', 'mv', '${db}', '/f.new', '/f']):
    r = subprocess.run(cli + args, capture_output=True, text=True); print('cli', r.returncode, r.stderr.strip())
os.unlink('${ma}/g')
time.sleep(0.6)  # both mounts see the change and poll
print('f', os.pread(fa, 100, 0).decode(), os.pread(fb, 100, 0).decode())
os.close(fa)
time.sleep(0.4)
os.pwrite(fb, b'VERSION', 0)
print('f', os.pread(fb, 100, 0).decode(), os.fstat(fb).st_nlink)
os.close(ga)
time.sleep(0.4)
print('g', os.pread(gb, 100, 0).decode())
os.close(fb); os.close(gb)
print('now', open('${mb}/f').read())
`;
      const r = await run('python3', ['-c', script, process.execPath, CLI]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('cli 0 \ncli 0 \nf version-one version-one\nf VERSION-one 0\ng gee\nnow version-two\n');
      await expectFreed(db, LEFT_ORPHANS);
    } finally {
      await forceUnmount(mb, pb);
      await forceUnmount(ma, pa);
    }
  });
});

describe('a file another process replaced, still open through a mount detached lazily', () => {
  it('stays readable, and goes once the descriptor is closed and the server ends', async () => {
    // The last descriptor's RELEASE never reaches a lazily detached mount's server: it counted
    // the file open to its end and left its orphan row (freed only by a later writable open).
    const db = join(dir, 'lazy.db');
    const mnt = join(dir, 'lazy-mnt');
    mkdirSync(mnt);
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/t0', 'version-one')).code).toBe(0);
    const pid = await mountBg(db, mnt);
    try {
      const script = `
import os, subprocess, sys, time
cli = [sys.argv[1], sys.argv[2]]
fd = os.open('${mnt}/t0', os.O_RDONLY)
for args in (['fs', 'write', '${db}', '/t0.new', 'version-two'], ['fs', 'mv', '${db}', '/t0.new', '/t0'], ['unmount', '-z', '${mnt}']):
    r = subprocess.run(cli + args, capture_output=True, text=True); print(args[0], r.returncode, r.stderr.strip())
time.sleep(0.4)
print('read', os.pread(fd, 100, 0).decode())
os.close(fd)
`;
      const r = await run('python3', ['-c', script, process.execPath, CLI]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('fs 0 \nfs 0 \nunmount 0 \nread version-one\n');
      for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((res) => setTimeout(res, 100));
      expect(isAlive(pid)).toBe(false);
      expect((await sqlite(db, 'SELECT count(*) FROM fs_inode WHERE nlink = 0; SELECT count(*) FROM agentfs_fs_orphan; SELECT count(*) FROM agentfs_fs_holder;')).stdout).toBe('0\n0\n0\n');
      expect((await cli('fs', 'cat', db, '/t0')).stdout).toBe('version-two');
    } finally {
      await forceUnmount(mnt, pid);
    }
  });
});

describe('a database on a read-only file system (sibling of item 7)', () => {
  it('the commands that only look read it; writers say why', async () => {
    const src = join(dir, 'ro-src');
    const ro = join(dir, 'ro');
    mkdirSync(src);
    mkdirSync(ro);
    const db = join(src, 'r.db');
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/f', 'hi')).code).toBe(0);
    expect((await cli('kv', 'set', db, 'k', '1')).code).toBe(0);
    const bind = await run('sh', ['-c', `mount --bind '${src}' '${ro}' && mount -o remount,bind,ro '${ro}'`]);
    expect(bind.stderr).toBe('');
    try {
      const rdb = join(ro, 'r.db');
      for (const [argv, out] of [
        [['fs', 'cat', rdb, '/f'], 'hi'],
        [['fs', 'ls', rdb, '/'], 'f f\n'],
        [['kv', 'list', rdb], 'k\t1\n'],
        [['migrate', rdb, '--dry-run'], `${rdb} is up to date (schema 0.4); nothing to do\n`],
      ] as [string[], string][]) {
        const r = await cli(...argv);
        expect({ argv, stdout: r.stdout, stderr: r.stderr }).toEqual({ argv, stdout: out, stderr: '' });
      }
      expect((await cli('timeline', rdb)).code).toBe(0);
      expect((await cli('sync', 'stats', rdb)).code).toBe(0);
      const w = await cli('kv', 'set', rdb, 'a', '1');
      expect(w.stderr).toBe(`agentfs: cannot write ${rdb}: ${rdb} is on a read-only file system\n`);
    } finally {
      await run('umount', [ro]);
    }
  });
});
