/**
 * The CLI against hostile input and faults (issue #10): closed pipes, terminal control
 * characters, numbers JSON cannot hold, huge option values, locked and read-only databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, ROOT, run, runCli, tempDir } from '../support/cli.js';
import { Agent } from '../../src/core/agent.js';
import { forceUnmount, isAlive, isMounted, waitFor } from '../support/fuse.js';

let dir: string;
let cleanup: () => void;
let db: string;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir('agentfs-hostile-'));
  db = join(dir, 'a.db');
  expect((await runCli(['init', db])).code).toBe(0);
});
afterAll(() => cleanup());

const cli = (...args: string[]) => runCli(args, { cwd: dir });
const sh = (script: string) => run('bash', ['-c', script], { cwd: dir });
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('a closed output pipe (item 8)', () => {
  beforeAll(() => {
    // outputs far larger than a pipe buffer, so the reader is gone long before the writer ends
    const agent = Agent.open({ path: db });
    try {
      agent.paths.writeFile('/big', Buffer.alloc(4 << 20, 120));
      agent.paths.mkdir('/d');
      for (let i = 0; i < 3000; i++) {
        agent.paths.writeFile(`/d/file-with-a-longish-name-${i}`, 'x');
        agent.kv.set(`key-${i}`, { i, pad: 'y'.repeat(40) });
      }
      for (let i = 0; i < 1500; i++) agent.tools.success(agent.tools.start('tool', { i }), { ok: true });
    } finally {
      agent.close();
    }
  });

  it.each([
    ['fs cat', ['fs', 'cat', 'DB', '/big']],
    ['fs ls -l', ['fs', 'ls', '-l', 'DB', '/d']],
    ['fs tree', ['fs', 'tree', 'DB', '/']],
    ['fs stat', ['fs', 'stat', 'DB', '/big']],
    ['kv list', ['kv', 'list', 'DB']],
    ['timeline', ['timeline', 'DB', '--limit', '5000']],
  ])('%s into `head -c1` ends quietly, as killed by SIGPIPE', async (_name, argv) => {
    const r = await sh(`set -o pipefail; node ${q(CLI)} ${argv.map((a) => q(a === 'DB' ? db : a)).join(' ')} 2>err | head -c1 >/dev/null; echo "status=$?"; cat err`);
    expect(r.stdout).not.toMatch(/EPIPE|Unhandled|node:events/);
    expect(r.stdout).toMatch(/^status=(0|141)\n$/);
  });

  it('record passes the closed pipe on to its command and still finishes the call', async () => {
    const r = await sh(`set -o pipefail; node ${q(CLI)} record ${q(db)} --name yes -- yes 2>err | head -c1 >/dev/null; echo "status=$?"; cat err`);
    expect(r.stdout).toBe('status=141\n');
    const t = JSON.parse((await cli('timeline', db, '--calls', '--filter', 'yes', '--format', 'json')).stdout) as { status: string; error: string }[];
    expect(t[0]).toMatchObject({ status: 'error', error: expect.stringMatching(/^killed by SIGPIPE/) });
  });
});

describe('numeric options out of range (item 13)', () => {
  it.each([
    ['timeline', '--limit', '99999999999999999999'],
    ['timeline', '--limit', '1e3'],
    ['timeline', '--limit', '-1'],
    ['timeline', '--since', '99999999999999999999'],
    ['timeline', '--until', '99999999999999999999'],
    ['timeline', '--since', '9999999999999d'],
    ['timeline', '--since', '+275760-09-13'],
    ['timeline', '--interval', '99999999999999999999', '--follow'],
    ['record', '--tail', '99999999999999999999', '--', 'true'],
    ['fs', 'tree', '--level', '99999999999999999999'],
  ])('%s %s %s: one clear line naming the option', async (cmd, ...rest) => {
    const argv = cmd === 'fs' ? ['fs', rest[0]!, db, ...rest.slice(1)] : [cmd, db, ...rest];
    const option = argv.find((a) => a.startsWith('--'))!;
    const r = await cli(...argv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^agentfs: ${option} \\S+: `));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/BigInt|datatype mismatch|precision/);
  });

  it('init --chunk-size out of range', async () => {
    const r = await cli('init', join(dir, 'cs.db'), '--chunk-size', '99999999999999999999');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: --chunk-size 99999999999999999999: /);
  });
});

describe('init over a file that is not an agent (item 13)', () => {
  it('says what the file is instead of "agent already exists"', async () => {
    const file = join(dir, 'random.db');
    writeFileSync(file, Buffer.from('not sqlite at all, just some bytes'.repeat(50)));
    const r = await cli('init', file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/agent already exists/);
    expect(r.stderr).toMatch(/random\.db.*not a SQLite database/);
  });
});

describe('read-only commands next to a writer, and databases we may not write (item 7)', () => {
  it('read while another process holds a write transaction', async () => {
    const db = join(dir, 'locked.db');
    expect((await cli('init', db)).code).toBe(0);
    const agent = Agent.open({ path: db });
    try {
      agent.paths.writeFile('/big', 'x'.repeat(10_000));
      agent.paths.mkdir('/d');
      agent.paths.writeFile('/d/file-with-a-longish-name-1', 'one');
      agent.kv.set('key-1', 1);
      agent.kv.set('key-2', 2);
      agent.tools.success(agent.tools.start('tool'), {});
    } finally {
      agent.close();
    }
    const locker = spawn(process.execPath, ['--input-type=module', '-e', `
      import Database from 'libsql';
      const db = new Database(${JSON.stringify(db)});
      db.exec("BEGIN IMMEDIATE; INSERT INTO kv_store (key, value) VALUES ('uncommitted', '1')");
      process.stdout.write('locked\\n');
      process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
      process.stdin.resume();
    `], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        locker.stdout.once('data', () => resolve());
        locker.once('exit', (code) => reject(new Error(`locker exited ${code}`)));
      });
      await cli('kv', 'set', db, 'committed', '"yes"').then((r) => expect(r.stderr).toMatch(/locked/)); // writers still wait
      for (const argv of [
        ['fs', 'cat', db, '/d/file-with-a-longish-name-1'],
        ['fs', 'ls', db, '/'],
        ['fs', 'stat', db, '/big'],
        ['fs', 'tree', db, '/', '-L', '1'],
        ['kv', 'get', db, 'key-1'],
        ['kv', 'list', db, 'key-2'],
        ['timeline', db, '--limit', '1'],
        ['timeline', db, '--stats'],
      ]) {
        const r = await cli(...argv);
        expect({ argv, stderr: r.stderr, code: r.code }).toEqual({ argv, stderr: '', code: 0 });
      }
      expect((await cli('kv', 'get', db, 'uncommitted')).stderr).toMatch(/no such key/);
    } finally {
      locker.stdin.end();
      await new Promise((r) => locker.once('close', r));
    }
  }, 120_000);

  it('read-only commands work on an overlay agent, also on its first open', async () => {
    const base = join(dir, 'ovbase');
    mkdirSync(base);
    writeFileSync(join(base, 'f'), 'from base');
    const ov = join(dir, 'ov.db');
    expect((await cli('init', ov, '--base', base)).code).toBe(0);
    expect((await cli('fs', 'cat', ov, '/f')).stdout).toBe('from base');
    expect((await cli('fs', 'ls', ov, '/')).stdout).toBe('f f\n');
    expect((await cli('diff', ov)).code).toBe(0);
  });

  const asNobody = process.getuid?.() === 0 ? it : it.skip; // permissions do not stop root
  const nobody = (...args: string[]) =>
    run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { cwd: '/' });

  asNobody('a writable database in a read-only directory: reads work, writes say why', async () => {
    const ro = join(dir, 'rodir');
    mkdirSync(ro);
    expect((await cli('init', join(ro, 'a.db'))).code).toBe(0);
    expect((await cli('kv', 'set', join(ro, 'a.db'), 'k', '1')).code).toBe(0);
    chmodSync(dir, 0o755);
    chmodSync(ro, 0o755);
    chmodSync(join(ro, 'a.db'), 0o666);
    const w = await nobody('kv', 'set', join(ro, 'a.db'), 'k', '2');
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/^agentfs: cannot write \S+a\.db: directory \S+rodir is not writable/);
    expect(w.stderr).not.toMatch(/corrupt/);
    const r = await nobody('kv', 'get', join(ro, 'a.db'), 'k');
    expect({ out: r.stdout, err: r.stderr }).toEqual({ out: '1\n', err: '' });
    expect((await nobody('fs', 'ls', join(ro, 'a.db'))).code).toBe(0);
    expect((await nobody('timeline', join(ro, 'a.db'))).code).toBe(0);
    const init = await nobody('init', join(ro, 'new.db'));
    expect(init.stderr).toMatch(/^agentfs: cannot write \S+new\.db: directory \S+rodir is not writable/);
    expect(init.stderr).not.toMatch(/ConnectionFailed|14/);
  });

  asNobody('a database file without write permission (0444) names itself', async () => {
    const wd = join(dir, 'wd');
    mkdirSync(wd);
    chmodSync(dir, 0o755);
    chmodSync(wd, 0o777);
    expect((await cli('init', join(wd, 'b.db'))).code).toBe(0);
    chmodSync(join(wd, 'b.db'), 0o444);
    const w = await nobody('kv', 'set', join(wd, 'b.db'), 'k', '1');
    expect(w.stderr).toMatch(/^agentfs: cannot write \S+b\.db: \S+b\.db is not writable/);
    expect((await nobody('kv', 'list', join(wd, 'b.db'))).code).toBe(0);
  });

  asNobody('a -wal/-shm left behind by another user is named', async () => {
    const sd = join(dir, 'sd');
    mkdirSync(sd);
    chmodSync(dir, 0o755);
    chmodSync(sd, 0o777);
    const file = join(sd, 'c.db');
    expect((await cli('init', file)).code).toBe(0);
    chmodSync(file, 0o666);
    // another user's process has it open (its -wal and -shm exist, and are not ours to write)
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      import Database from 'libsql';
      const db = new Database(${JSON.stringify(file)});
      db.exec("INSERT INTO kv_store (key, value) VALUES ('k', '1')");
      process.stdout.write('open\\n');
      process.stdin.resume();
      process.stdin.on('end', () => process.exit(0));
    `], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => holder.stdout.once('data', r));
      chmodSync(`${file}-shm`, 0o644);
      chmodSync(`${file}-wal`, 0o644);
      const w = await nobody('kv', 'set', file, 'k', '2');
      expect(w.stderr).toMatch(/^agentfs: cannot write \S+c\.db: \S+c\.db-(wal|shm) is not writable/);
    } finally {
      holder.stdin.end();
      await new Promise((r) => holder.once('close', r));
    }
  });
});

describe('kv values JSON numbers in JavaScript cannot hold (item 11)', () => {
  it.each([
    ['1e999', /out of range/],
    ['-1e999', /out of range/],
    ['123456789012345678901234567890', /cannot be stored exactly.*1\.2345678901234568e\+29/],
    ['{"a":[1,0.10000000000000000001]}', /0\.10000000000000000001 cannot be stored exactly/],
    ['1e-400', /cannot be stored exactly/],
    ['-0', /-0 would read back as 0/],
  ])('kv set %s is refused, nothing stored', async (text, message) => {
    const r = await cli('kv', 'set', db, 'num', text);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/--string/);
    expect((await cli('kv', 'get', db, 'num')).stderr).toMatch(/no such key/);
  });

  it.each([['1.0', '1'], ['1e2', '100'], ['0.1', '0.1'], ['-5', '-5'], ['9007199254740993e0', null], ['[1e308, 2.5e-300]', '[1e+308,2.5e-300]']])(
    'kv set %s keeps its value',
    async (text, shown) => {
      const r = await cli('kv', 'set', db, 'ok', text);
      if (shown === null) {
        expect(r.stderr).toMatch(/cannot be stored exactly/);
        return;
      }
      expect(r.stderr).toBe('');
      expect((await cli('kv', 'get', db, 'ok')).stdout).toBe(`${shown}\n`);
    },
  );

  it('kv set --string keeps any text, and deep nesting gets a clear error', async () => {
    expect((await cli('kv', 'set', db, 'big', '123456789012345678901234567890', '--string')).code).toBe(0);
    expect((await cli('kv', 'get', db, 'big')).stdout).toBe('123456789012345678901234567890\n');
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await runCli(['kv', 'set', db, 'deep'], { cwd: dir, input: deep });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: .*nests deeper than 1000 levels/);
    expect(r.stderr).not.toMatch(/call stack/);
  });

  it('the SDK refuses NaN, Infinity and over-deep values instead of storing null', async () => {
    const agent = Agent.open({ path: db });
    try {
      expect(() => agent.kv.set('inf', Infinity)).toThrow(/not a finite number/);
      expect(() => agent.kv.set('nan', { a: [NaN] })).toThrow(/not a finite number/);
      let deep: unknown[] = [];
      for (let i = 0; i < 20_000; i++) deep = [deep];
      expect(() => agent.kv.set('deep', deep)).toThrow(/nests deeper than 1000 levels/);
      expect(agent.kv.has('inf') || agent.kv.has('nan') || agent.kv.has('deep')).toBe(false);
    } finally {
      agent.close();
    }
  });
});

describe('control characters in names, keys and messages (item 9)', () => {
  const ESC = '\x1b';
  const nasty = ['a\nb', `${ESC}[31mred`, 'tab\there', `${ESC}]0;title\x07`, 'c1\u009b2J', 'bidi\u202egnp.exe', "it's"];
  let ndb: string;
  beforeAll(async () => {
    ndb = join(dir, 'names.db');
    expect((await cli('init', ndb)).code).toBe(0);
    const agent = Agent.open({ path: ndb });
    try {
      agent.paths.mkdir('/n');
      for (const name of nasty) {
        agent.paths.writeFile(`/n/${name}`, 'x');
        agent.kv.set(`k-${name}`, `v-${name}`);
      }
      agent.paths.symlink(`target${ESC}[2J`, '/n/link');
      agent.tools.success(agent.tools.start(`tool${ESC}[2J`), {});
    } finally {
      agent.close();
    }
  });

  /** Nothing a terminal would act on, and one line per entry. */
  const clean = (text: string) => expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);

  it('fs ls, ls -l, tree and stat quote names as GNU ls does', async () => {
    const ls = await cli('fs', 'ls', ndb, '/n');
    clean(ls.stdout);
    const lines = ls.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(nasty.length + 1);
    expect(lines).toContain(`f 'a'$'\\n''b'`);
    expect(lines).toContain(`f $'\\033''[31mred'`);
    expect(lines).toContain(`f 'tab'$'\\t''here'`);
    expect(lines).toContain(`f 'it'\\''s'`);
    expect(lines).toContain(`l link`);
    const long = await cli('fs', 'ls', '-l', ndb, '/n');
    clean(long.stdout);
    expect(long.stdout.trimEnd().split('\n')).toHaveLength(nasty.length + 1);
    expect(long.stdout).toContain(`link -> 'target'$'\\033''[2J'`);
    const tree = await cli('fs', 'tree', ndb, '/');
    clean(tree.stdout.replace(/\n/g, ''));
    expect(tree.stdout.trimEnd().split('\n')).toHaveLength(nasty.length + 5); // root, n, entries, blank, summary
    const stat = await cli('fs', 'stat', ndb, '/n/a\nb');
    clean(stat.stdout.replace(/\n/g, ''));
    expect(stat.stdout).toContain(`File: '/n/a'$'\\n''b'`);
  });

  it('--json stays exact', async () => {
    const json = JSON.parse((await cli('fs', 'ls', '--json', ndb, '/n')).stdout) as { name: string }[];
    expect(json.map((e) => e.name).sort()).toEqual([...nasty, 'link'].sort());
    const kv = JSON.parse((await cli('kv', 'list', '--json', ndb)).stdout) as { key: string }[];
    expect(kv.map((e) => e.key).sort()).toEqual(nasty.map((n) => `k-${n}`).sort());
  });

  it('kv list, timeline and error messages escape them too', async () => {
    const kv = await cli('kv', 'list', ndb);
    clean(kv.stdout.replace(/\n/g, ''));
    expect(kv.stdout.trimEnd().split('\n')).toHaveLength(nasty.length);
    const keys = await cli('kv', 'list', '--keys', ndb);
    expect(keys.stdout).toContain(`'k-a'$'\\n''b'\n`);
    const t = await cli('timeline', ndb);
    clean(t.stdout.replace(/\n/g, ''));
    expect(t.stdout).toContain(`'tool'$'\\033''[2J'`);
    const err = await cli('kv', 'get', ndb, `${ESC}[2J${ESC}]0;pwned\x07`);
    expect(err.code).not.toBe(0);
    clean(err.stderr.replace(/\n$/, ''));
    expect(err.stderr.trimEnd().split('\n')).toHaveLength(1);
    const ferr = await cli('fs', 'cat', ndb, `/nope\n${ESC}[2J`);
    clean(ferr.stderr.replace(/\n$/, ''));
  });

  it('init names a database path with control characters quoted', async () => {
    const r = await cli('init', join(dir, `odd${ESC}[2J\n.db`));
    expect(r.code).toBe(0);
    clean(r.stdout.replace(/\n/g, ''));
    expect(r.stdout).toContain(`odd'$'\\033''[2J'$'\\n''.db'\n`);
  });
});

describe('the mount listing after a server dies (item 15)', () => {
  it('a server killed with SIGKILL, or whose pid now belongs to another process, is not listed as live', async () => {
    const runtime = join(dir, 'runtime');
    const mnt = join(dir, 'mnt15');
    mkdirSync(mnt);
    const env = { AGENTFS_RUNTIME_DIR: runtime };
    const list = async () => (await runCli(['mount'], { env })).stdout;
    const m = await runCli(['mount', db, mnt], { env });
    expect(m.code).toBe(0);
    const pid = Number(/\(pid (\d+)\)/.exec(m.stdout)![1]);
    let other: ReturnType<typeof spawn> | undefined;
    try {
      expect(await list()).toMatch(new RegExp(`${mnt}\\s+\\S+\\s+${pid}\\n`));
      process.kill(pid, 'SIGKILL');
      expect(await list()).toMatch(new RegExp(`${mnt}\\s+\\S+\\s+dead`));
      await waitFor(() => !isAlive(pid));
      // the pid is reused by an unrelated process: still dead
      other = spawn('sleep', ['30'], { stdio: 'ignore' });
      const file = readdirSync(runtime).find((f) => f.endsWith('.json'))!;
      const rec = JSON.parse(readFileSync(join(runtime, file), 'utf8')) as { pid: number };
      writeFileSync(join(runtime, file), JSON.stringify({ ...rec, pid: other.pid }));
      expect(await list()).toMatch(new RegExp(`${mnt}\\s+\\S+\\s+dead`));
    } finally {
      other?.kill('SIGKILL');
      await forceUnmount(mnt, pid);
    }
    expect(isMounted(mnt)).toBe(false);
  });
});

describe('record killed with SIGKILL, and commands that cannot run (item 14)', () => {
  it('the command dies with its recorder, and the call reads (then is stored) as failed', async () => {
    const rdb = join(dir, 'rec14.db');
    expect((await cli('init', rdb)).code).toBe(0);
    const recorder = spawn(process.execPath, [CLI, 'record', rdb, '--', 'sh', '-c', 'echo started; exec sleep 60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let sleeper: number | undefined;
    try {
      await new Promise((r) => recorder.stdout.once('data', r));
      // the recorder's child (sh, which became sleep by exec)
      const kids = readFileSync(`/proc/${recorder.pid}/task/${recorder.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      expect(kids).toHaveLength(1);
      sleeper = kids[0]!;
      expect(isAlive(sleeper)).toBe(true);
      recorder.kill('SIGKILL');
      await new Promise((r) => recorder.once('close', r));
      expect(await waitFor(() => !isAlive(sleeper!) || readFileSync(`/proc/${sleeper}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'), 10_000)).toBe(true);
      // a read-only look shows it failed, with the reason
      const seen = JSON.parse((await cli('timeline', rdb, '--format', 'json')).stdout) as { status: string; error?: string }[];
      expect(seen[0]).toMatchObject({ status: 'error', error: expect.stringMatching(/recording process \(pid \d+\) ended without finishing/) });
      expect(JSON.parse((await cli('timeline', rdb, '--status', 'pending', '--format', 'json')).stdout)).toEqual([]);
      const stats = JSON.parse((await cli('timeline', rdb, '--stats', '--format', 'json')).stdout) as { tools: unknown[] };
      expect(stats.tools).toEqual([expect.objectContaining({ name: 'sh', failed: 1, pending: 0 })]);
      // the next writable open stores it
      const { Store } = await import('../../src/store/index.js');
      const raw = () => {
        const store = Store.open({ path: rdb }, { readOnly: true });
        try {
          return store.db.prepare('SELECT status, error FROM tool_calls').get() as { status: string; error: string | null };
        } finally {
          store.close();
        }
      };
      expect(raw().status).toBe('pending');
      expect((await cli('kv', 'set', rdb, 'k', '1')).code).toBe(0);
      expect(raw()).toMatchObject({ status: 'error', error: expect.stringMatching(/ended without finishing/) });
    } finally {
      if (recorder.exitCode === null && recorder.signalCode === null) recorder.kill('SIGKILL');
      if (sleeper !== undefined && isAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });

  it('a command that is found but cannot run exits 126, one that is not found 127 (as run)', async () => {
    const notExec = await cli('record', db, '--', '/etc');
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toBe('agentfs: cannot run /etc: EACCES\n');
    const missing = await cli('record', db, '--', 'no-such-program-xyz');
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('agentfs: cannot run no-such-program-xyz: ENOENT\n');
  });
});

describe('deeply nested tool-call parameters (item 13)', () => {
  it('are recorded as a note, not a stack overflow or an empty string', () => {
    const agent = Agent.open({ path: db });
    try {
      let deep: unknown[] = [];
      for (let i = 0; i < 20_000; i++) deep = [deep];
      const id = agent.tools.start('deep', { deep });
      agent.tools.success(id, deep);
      const call = agent.tools.get(id)!;
      expect(call.parameters).toMatch(/not recorded: nested too deeply/);
      expect(call.result).toMatch(/not recorded: nested too deeply/);
    } finally {
      agent.close();
    }
  });
});

describe('usage errors', () => {
  it('are one line with the agentfs prefix and status 1, like every other error', async () => {
    for (const args of [['init', '--bogus'], ['nosuch'], ['kv', 'set'], ['fs', 'ls', db, '/', 'extra', 'more'], ['init', '--chunk-size']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(/^agentfs: .+ \(run with --help for usage\)$/);
    }
  });
});
