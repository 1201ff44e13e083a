/**
 * `agentfs serve mcp` driven by the MCP SDK's own client over stdio: every tool, its errors,
 * and attempts to leave the agent's filesystem.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { runCli, tempDir } from '../support/cli.js';
import { freshAgent, serve, type Served } from './mcp-harness.js';

const ALL_TOOLS = [
  'read_file', 'write_file', 'readdir', 'mkdir', 'remove', 'rename', 'stat', 'access',
  'kv_get', 'kv_set', 'kv_delete', 'kv_list',
];

let agent: ReturnType<typeof freshAgent>;
let s: Served;

beforeAll(async () => {
  agent = freshAgent();
  s = await serve(agent.db);
});
afterAll(async () => {
  await s?.close();
  agent?.cleanup();
});

/** Reads the database directly (a second connection; the server keeps running). */
function inAgent<T>(fn: (a: Agent) => T): T {
  const a = Agent.open({ path: agent.db });
  try {
    return fn(a);
  } finally {
    a.close();
  }
}

describe('serve mcp: tool list', () => {
  it('offers the twelve reference tools with JSON Schemas of their arguments', async () => {
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(ALL_TOOLS);
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('write_file')!.inputSchema.required).toEqual(['path', 'content']);
    expect(byName.get('rename')!.inputSchema.required).toEqual(['from', 'to']);
    expect(byName.get('kv_set')!.inputSchema.required).toEqual(['key', 'value']);
    expect(byName.get('kv_list')!.inputSchema.required ?? []).toEqual([]);
    expect(Object.keys(byName.get('read_file')!.inputSchema.properties!)).toEqual(['path', 'encoding']);
    expect(byName.get('read_file')!.annotations?.readOnlyHint).toBe(true);
    expect(byName.get('remove')!.annotations?.destructiveHint).toBe(true);
    for (const t of tools) expect(t.outputSchema?.type).toBe('object');
    const info = s.client.getServerVersion();
    expect(info?.name).toBe('agentfs');
  });
});

describe('serve mcp: files', () => {
  it('write_file and read_file round-trip UTF-8 text', async () => {
    const text = 'Hello, wörld! ✓\nsecond line\n';
    const w = await s.ok('write_file', { path: '/hello.txt', content: text });
    expect(w).toMatchObject({ path: '/hello.txt', bytes: Buffer.byteLength(text) });
    const r = await s.ok('read_file', { path: '/hello.txt' });
    expect(r).toEqual({ path: '/hello.txt', encoding: 'utf8', size: Buffer.byteLength(text), content: text });
    // a relative path starts at the agent root
    expect((await s.ok('read_file', { path: 'hello.txt' })).content).toBe(text);
    expect(inAgent((a) => a.paths.readFile('/hello.txt', 'utf8'))).toBe(text);
  });

  it('binary content goes through base64 both ways; UTF-8 reads of binary data are refused', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13, 0]);
    await s.ok('write_file', { path: '/bin.dat', content: bytes.toString('base64'), encoding: 'base64' });
    expect(inAgent((a) => a.paths.readFile('/bin.dat')).equals(bytes)).toBe(true);
    const r = await s.ok<{ content: string; size: number }>('read_file', { path: '/bin.dat', encoding: 'base64' });
    expect(Buffer.from(r.content, 'base64').equals(bytes)).toBe(true);
    expect(r.size).toBe(bytes.length);
    expect(await s.fail('read_file', { path: '/bin.dat' })).toMatch(/EINVAL.*not valid UTF-8.*base64/);
    expect(await s.fail('write_file', { path: '/x.dat', content: 'not base64!', encoding: 'base64' })).toMatch(/EINVAL.*base64/);
    expect(inAgent((a) => a.paths.exists('/x.dat'))).toBe(false);
  });

  it('write_file replaces content, needs an existing parent unless create_dirs', async () => {
    await s.ok('write_file', { path: '/over.txt', content: 'a long first version' });
    await s.ok('write_file', { path: '/over.txt', content: 'short' });
    expect((await s.ok('read_file', { path: '/over.txt' })).content).toBe('short');
    expect(await s.fail('write_file', { path: '/no/such/dir/f.txt', content: 'x' })).toMatch(/^ENOENT/);
    await s.ok('write_file', { path: '/made/by/mcp/f.txt', content: 'deep', create_dirs: true });
    expect(inAgent((a) => a.paths.readFile('/made/by/mcp/f.txt', 'utf8'))).toBe('deep');
    expect(await s.fail('write_file', { path: '/made', content: 'x' })).toMatch(/^EISDIR/);
    expect(await s.fail('read_file', { path: '/made' })).toMatch(/^EISDIR/);
    expect(await s.fail('read_file', { path: '/missing.txt' })).toMatch(/^ENOENT: .*\/missing\.txt/);
  });

  it('mkdir, plain and recursive', async () => {
    const d = await s.ok<{ path: string; ino: number }>('mkdir', { path: '/dir1' });
    expect(d.path).toBe('/dir1');
    expect(inAgent((a) => a.paths.stat('/dir1').ino)).toBe(d.ino);
    expect(await s.fail('mkdir', { path: '/dir1' })).toMatch(/^EEXIST/);
    expect(await s.fail('mkdir', { path: '/p/q/r' })).toMatch(/^ENOENT/);
    await s.ok('mkdir', { path: '/p/q/r', recursive: true });
    await s.ok('mkdir', { path: '/p/q/r', recursive: true }); // like mkdir -p: no error
    expect(inAgent((a) => a.paths.stat('/p/q/r').mode & 0o170000)).toBe(0o040000);
  });

  it('readdir lists names with types, sorted; defaults to the root', async () => {
    await s.ok('mkdir', { path: '/ls' });
    await s.ok('write_file', { path: '/ls/b.txt', content: 'bb' });
    await s.ok('write_file', { path: '/ls/a.txt', content: 'a' });
    await s.ok('mkdir', { path: '/ls/sub' });
    inAgent((a) => a.paths.symlink('a.txt', '/ls/link'));
    const r = await s.ok<{ path: string; entries: { name: string; type: string; size: number; ino: number }[] }>('readdir', {
      path: '/ls',
    });
    expect(r.path).toBe('/ls');
    expect(r.entries.map((e) => [e.name, e.type])).toEqual([
      ['a.txt', 'file'],
      ['b.txt', 'file'],
      ['link', 'symlink'],
      ['sub', 'directory'],
    ]);
    expect(r.entries.find((e) => e.name === 'b.txt')!.size).toBe(2);
    const root = await s.ok<{ path: string; entries: { name: string }[] }>('readdir', {});
    expect(root.path).toBe('/');
    expect(root.entries.map((e) => e.name)).toContain('ls');
    expect(await s.fail('readdir', { path: '/ls/a.txt' })).toMatch(/^ENOTDIR/);
    expect(await s.fail('readdir', { path: '/nowhere' })).toMatch(/^ENOENT/);
  });

  it('stat describes files, directories and symlinks', async () => {
    await s.ok('write_file', { path: '/st.txt', content: '12345' });
    const before = Date.now();
    const st = await s.ok<Record<string, unknown>>('stat', { path: '/st.txt' });
    const attr = inAgent((a) => a.paths.stat('/st.txt'));
    expect(st).toMatchObject({
      path: '/st.txt',
      type: 'file',
      ino: attr.ino,
      mode: '0' + (attr.mode & 0o777).toString(8),
      permissions: (attr.mode & 0o7777).toString(8).padStart(4, '0'),
      nlink: 1,
      uid: attr.uid,
      gid: attr.gid,
      size: 5,
      mtime_ns: `${attr.mtime.sec}.${String(attr.mtime.nsec).padStart(9, '0')}`,
      mtime_nsec: attr.mtime.nsec,
      is_file: true,
      is_directory: false,
      is_symlink: false,
    });
    expect(Math.abs(Date.parse(st.mtime as string) - before)).toBeLessThan(60_000);
    expect(await s.ok('stat', { path: '/' })).toMatchObject({ path: '/', type: 'directory', ino: 1, is_directory: true });
    inAgent((a) => a.paths.symlink('/st.txt', '/st.link'));
    expect(await s.ok('stat', { path: '/st.link' })).toMatchObject({ type: 'symlink', is_symlink: true, size: '/st.txt'.length });
    expect(await s.fail('stat', { path: '/nothing' })).toMatch(/^ENOENT/);
  });

  it('stat is the object `agentfs fs stat --json` prints (plus its own fields); devices are named alike', async () => {
    await s.ok('mkdir', { path: '/dev' });
    inAgent((a) => {
      const dev = a.paths.resolve('/dev').ino;
      a.fs.mknod(dev, 'tty', 0o020620, (4 << 8) | 1, a.paths.caller);
      a.fs.mknod(dev, 'sda', 0o060660, (8 << 8) | 0, a.paths.caller);
      a.fs.mknod(dev, 'pipe', 0o010644, 0, a.paths.caller);
    });
    for (const [name, type] of [['tty', 'char-device'], ['sda', 'block-device'], ['pipe', 'fifo']]) {
      const st = await s.ok<Record<string, unknown>>('stat', { path: `/dev/${name}` });
      const cli = await runCli(['fs', 'stat', agent.db, `/dev/${name}`, '--json']);
      expect(cli.code).toBe(0);
      const printed = JSON.parse(cli.stdout) as Record<string, unknown>;
      expect(printed.type).toBe(type);
      expect(st).toMatchObject(printed);
    }
    const ls = await s.ok<{ entries: { name: string; type: string }[] }>('readdir', { path: '/dev' });
    expect(ls.entries.map((e) => [e.name, e.type])).toEqual([['pipe', 'fifo'], ['sda', 'block-device'], ['tty', 'char-device']]);
  });

  it('stat of a symlink carries its target, as `agentfs fs stat --json` prints it', async () => {
    inAgent((a) => a.paths.symlink('../some/where', '/dev-link'));
    const st = await s.ok<Record<string, unknown>>('stat', { path: '/dev-link' });
    const cli = await runCli(['fs', 'stat', agent.db, '/dev-link', '--json']);
    expect(cli.code).toBe(0);
    const printed = JSON.parse(cli.stdout) as Record<string, unknown>;
    expect(printed.target).toBe('../some/where');
    expect(st).toMatchObject(printed);
  });

  it('access tells whether a path exists and may be used; a missing path is not an error', async () => {
    await s.ok('write_file', { path: '/acc.txt', content: 'x' });
    expect(await s.ok('access', { path: '/acc.txt' })).toEqual({ path: '/acc.txt', exists: true, allowed: true });
    expect(await s.ok('access', { path: '/acc.txt', mode: 'rw' })).toEqual({ path: '/acc.txt', exists: true, allowed: true });
    expect(await s.ok('access', { path: '/no-such' })).toEqual({ path: '/no-such', exists: false, allowed: false });
    // a file in the agent owned by someone else with no permissions: only root may read it
    inAgent((a) => {
      a.paths.writeFile('/locked.txt', 'secret');
      a.paths.chmod('/locked.txt', 0o000);
    });
    const locked = await s.ok<{ exists: boolean; allowed: boolean }>('access', { path: '/locked.txt', mode: 'r' });
    expect(locked.exists).toBe(true);
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    expect(locked.allowed).toBe(root);
    expect(await s.fail('access', { path: '/acc.txt', mode: 'rwz' })).toMatch(/EINVAL.*mode/);
  });

  it('rename moves files and directories', async () => {
    await s.ok('write_file', { path: '/mv-src.txt', content: 'moving' });
    expect(await s.ok('rename', { from: '/mv-src.txt', to: '/mv-dst.txt' })).toEqual({ from: '/mv-src.txt', to: '/mv-dst.txt' });
    expect(inAgent((a) => [a.paths.exists('/mv-src.txt'), a.paths.readFile('/mv-dst.txt', 'utf8')])).toEqual([false, 'moving']);
    await s.ok('mkdir', { path: '/mvdir' });
    await s.ok('write_file', { path: '/mvdir/inner', content: 'i' });
    await s.ok('rename', { from: '/mvdir', to: '/made/mvdir2' });
    expect((await s.ok('read_file', { path: '/made/mvdir2/inner' })).content).toBe('i');
    expect(await s.fail('rename', { from: '/mv-src.txt', to: '/x' })).toMatch(/^ENOENT/);
    expect(await s.fail('rename', { from: '/made', to: '/made/inside' })).toMatch(/^EINVAL/);
  });

  it('remove deletes files, symlinks and empty directories; trees only when recursive', async () => {
    await s.ok('write_file', { path: '/rm.txt', content: 'x' });
    expect(await s.ok('remove', { path: '/rm.txt' })).toEqual({ path: '/rm.txt', type: 'file' });
    expect(inAgent((a) => a.paths.exists('/rm.txt'))).toBe(false);
    await s.ok('write_file', { path: '/rm-target.txt', content: 'kept' });
    inAgent((a) => a.paths.symlink('/rm-target.txt', '/rm-link'));
    expect(await s.ok('remove', { path: '/rm-link' })).toEqual({ path: '/rm-link', type: 'symlink' });
    expect(inAgent((a) => a.paths.readFile('/rm-target.txt', 'utf8'))).toBe('kept'); // the target stays
    await s.ok('mkdir', { path: '/rmdir/a/b', recursive: true });
    await s.ok('write_file', { path: '/rmdir/a/b/f', content: 'f' });
    expect(await s.fail('remove', { path: '/rmdir' })).toMatch(/^ENOTEMPTY/);
    expect(await s.ok('remove', { path: '/rmdir', recursive: true })).toEqual({ path: '/rmdir', type: 'directory' });
    expect(inAgent((a) => a.paths.exists('/rmdir'))).toBe(false);
    await s.ok('mkdir', { path: '/empty' });
    await s.ok('remove', { path: '/empty' });
    expect(await s.fail('remove', { path: '/empty' })).toMatch(/^ENOENT/);
    expect(await s.fail('remove', { path: '/' })).toMatch(/^EBUSY/);
    expect(inAgent((a) => a.paths.stat('/').ino)).toBe(1);
  });
});

describe('serve mcp: key-value store', () => {
  it('kv_set, kv_get, kv_list and kv_delete with JSON values', async () => {
    const value = { nested: [1, 'two', { three: true }], n: null };
    expect(await s.ok('kv_set', { key: 'cfg:a', value })).toEqual({ key: 'cfg:a' });
    await s.ok('kv_set', { key: 'cfg:b', value: 42 });
    await s.ok('kv_set', { key: 'other', value: 'text' });
    await s.ok('kv_set', { key: 'nullish', value: null });
    expect(await s.ok('kv_get', { key: 'cfg:a' })).toEqual({ key: 'cfg:a', found: true, value });
    expect(await s.ok('kv_get', { key: 'nullish' })).toEqual({ key: 'nullish', found: true, value: null });
    expect(await s.ok('kv_get', { key: 'absent' })).toEqual({ key: 'absent', found: false, value: null });
    expect(inAgent((a) => a.kv.get('cfg:b'))).toBe(42);
    expect(await s.ok('kv_list', { prefix: 'cfg:' })).toEqual({ prefix: 'cfg:', keys: ['cfg:a', 'cfg:b'] });
    expect((await s.ok<{ keys: string[] }>('kv_list')).keys).toEqual(['cfg:a', 'cfg:b', 'nullish', 'other']);
    expect(await s.ok('kv_delete', { key: 'cfg:a' })).toEqual({ key: 'cfg:a', deleted: true });
    expect(await s.ok('kv_delete', { key: 'cfg:a' })).toEqual({ key: 'cfg:a', deleted: false });
    expect(inAgent((a) => a.kv.has('cfg:a'))).toBe(false);
    // values set by another writer are visible to the server
    inAgent((a) => a.kv.set('from-sdk', [1, 2]));
    expect((await s.ok('kv_get', { key: 'from-sdk' })).value).toEqual([1, 2]);
  });
});

describe('serve mcp: bad arguments are tool errors, never a crash', () => {
  it('wrong types, missing and unknown arguments, empty keys, unknown tools', async () => {
    expect(await s.fail('read_file', { path: 42 })).toMatch(/^EINVAL: invalid arguments for read_file: path: Expected string, received number/);
    expect(await s.fail('read_file', {})).toMatch(/path: Required/);
    expect(await s.fail('write_file', { path: '/f' })).toMatch(/content: Required/);
    expect(await s.fail('read_file', { path: '/hello.txt', encoding: 'latin1' })).toMatch(/encoding: Invalid enum value/);
    expect(await s.fail('mkdir', { path: '/typo', recursve: true })).toMatch(/Unrecognized key.*recursve/);
    expect(await s.fail('kv_set', { key: 'k' })).toMatch(/value: value is required/);
    expect(await s.fail('kv_get', { key: '' })).toMatch(/key: key must not be empty/);
    expect(await s.fail('read_file', { path: '' })).toMatch(/path: path must not be empty/);
    expect(await s.fail('format_disk', {})).toMatch(/tool 'format_disk' does not exist/);
    expect(inAgent((a) => a.paths.exists('/typo'))).toBe(false);
    // the server is still there and working
    expect((await s.ok('read_file', { path: '/hello.txt' })).content).toMatch(/^Hello/);
    expect(s.transport.pid).toBeGreaterThan(0);
  });
});

describe('serve mcp: read_file of a file too large for one message', () => {
  it('is EFBIG at once (a sparse 8 TiB file kept the server reading forever), and the server keeps working', async () => {
    inAgent((a) => {
      a.paths.writeFile('/huge-sparse', '');
      a.paths.truncate('/huge-sparse', 2 ** 43);
      a.paths.writeFile('/big-ok', Buffer.alloc(1 << 20, 1));
    });
    expect(await s.fail('read_file', { path: '/huge-sparse' })).toMatch(/^EFBIG/);
    expect(await s.fail('read_file', { path: '/huge-sparse', encoding: 'base64' })).toMatch(/^EFBIG/);
    expect((await s.ok<{ size: number }>('read_file', { path: '/big-ok', encoding: 'base64' })).size).toBe(1 << 20);
  });
});

describe('serve mcp: a trailing slash or /. names a directory, as for the CLI and the kernel', () => {
  it('a file named with a trailing slash is ENOTDIR and is not removed; a missing directory is not made a file', async () => {
    await s.ok('write_file', { path: '/slash-file', content: 'keep me' });
    for (const tool of ['stat', 'read_file', 'remove'] as const) {
      expect(await s.fail(tool, { path: '/slash-file/' }), tool).toMatch(/^ENOTDIR/);
      const cli = await runCli(['fs', tool === 'read_file' ? 'cat' : tool === 'remove' ? 'rm' : 'stat', agent.db, '/slash-file/']);
      expect(cli.stderr, tool).toMatch(/^agentfs: ENOTDIR/);
    }
    expect(await s.fail('stat', { path: '/slash-file/.' })).toMatch(/^ENOTDIR/);
    expect(inAgent((a) => a.paths.readFile('/slash-file', 'utf8'))).toBe('keep me');
    expect(await s.fail('write_file', { path: '/no-dir-here/.', content: 'x' })).toMatch(/^E/);
    expect(inAgent((a) => a.paths.exists('/no-dir-here'))).toBe(false);
    // a directory may be named so
    await s.ok('mkdir', { path: '/slash-dir/' });
    expect(await s.ok('stat', { path: '/slash-dir/' })).toMatchObject({ type: 'directory' });
    expect(await s.ok('readdir', { path: '/slash-dir/.' })).toMatchObject({ entries: [] });
    await s.ok('remove', { path: '/slash-dir/' });
    expect(inAgent((a) => a.paths.exists('/slash-dir'))).toBe(false);
  });
});

describe('serve mcp: paths never leave the agent filesystem', () => {
  it('`..` is clamped at the agent root: ../../etc/passwd is the agent\'s /etc/passwd, not the host\'s', async () => {
    const host = readFileSync('/etc/passwd', 'utf8');
    expect(await s.fail('read_file', { path: '../../etc/passwd' })).toMatch(/^ENOENT: .*\/etc\/passwd/);
    expect(await s.fail('read_file', { path: '/../../../etc/passwd' })).toMatch(/^ENOENT/);
    expect(await s.fail('stat', { path: '/tmp/../../../etc/shadow' })).toMatch(/^ENOENT/);
    // writing there creates the file inside the agent; the host file is untouched
    const w = await s.ok<{ path: string }>('write_file', { path: '../../etc/passwd', content: 'agent-owned', create_dirs: true });
    expect(w.path).toBe('/etc/passwd');
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(host);
    expect(inAgent((a) => a.paths.readFile('/etc/passwd', 'utf8'))).toBe('agent-owned');
    expect((await s.ok('read_file', { path: '../../../etc/passwd' })).content).toBe('agent-owned');
    const up = await s.ok<{ path: string; entries: { name: string }[] }>('readdir', { path: '../..' });
    expect(up.path).toBe('/');
    expect(up.entries.map((e) => e.name)).toContain('hello.txt');
  });

  it('a host path (the database directory) names a path inside the agent, and nothing is written on the host', async () => {
    const hostFile = join(agent.dir, 'escaped.txt');
    expect(await s.fail('read_file', { path: agent.db })).toMatch(/^ENOENT/);
    expect(await s.fail('write_file', { path: hostFile, content: 'x' })).toMatch(/^ENOENT/);
    await s.ok('write_file', { path: `../../..${hostFile}`, content: 'inside', create_dirs: true });
    expect(existsSync(hostFile)).toBe(false);
    expect(inAgent((a) => a.paths.readFile(hostFile, 'utf8'))).toBe('inside');
    await s.ok('rename', { from: hostFile, to: '/../../renamed-escape.txt' });
    expect(existsSync(join(agent.dir, '..', 'renamed-escape.txt'))).toBe(false);
    expect(inAgent((a) => a.paths.exists('/renamed-escape.txt'))).toBe(true);
  });

  it('symlinks resolve inside the agent: an absolute or climbing target never reaches the host', async () => {
    inAgent((a) => {
      a.paths.mkdir('/links');
      a.paths.symlink('/etc/hostname', '/links/abs');
      a.paths.symlink('../../../../../../etc/hostname', '/links/climb');
    });
    expect(await s.fail('read_file', { path: '/links/abs' })).toMatch(/^ENOENT/);
    expect(await s.fail('read_file', { path: '/links/climb' })).toMatch(/^ENOENT/);
    await s.ok('write_file', { path: '/etc/hostname', content: 'agent-host' });
    expect((await s.ok('read_file', { path: '/links/abs' })).content).toBe('agent-host');
    expect((await s.ok('read_file', { path: '/links/climb' })).content).toBe('agent-host');
  });

  it('NUL bytes in paths are refused', async () => {
    expect(await s.fail('read_file', { path: '/hello.txt\u0000/etc/passwd' })).toMatch(/^EINVAL: path contains a NUL byte/);
    expect(await s.fail('write_file', { path: 'a\u0000b', content: 'x' })).toMatch(/^EINVAL/);
    expect(await s.fail('rename', { from: '/hello.txt', to: '/x\u0000' })).toMatch(/^EINVAL/);
    expect(inAgent((a) => a.paths.exists('/hello.txt'))).toBe(true);
  });
});

describe('serve mcp: overlay agent', () => {
  it('reads the base, writes only to the database, and host symlinks in the base stay inside the agent', async () => {
    const t = tempDir('agentfs-mcp-overlay-');
    const base = join(t.dir, 'base');
    mkdirSync(join(base, 'sub'), { recursive: true });
    writeFileSync(join(base, 'sub', 'b.txt'), 'from base\n');
    symlinkSync('/etc/passwd', join(base, 'passwd-link'));
    symlinkSync('../../../../../../../../etc/passwd', join(base, 'climb-link'));
    const db = join(t.dir, 'ov.db');
    expect((await runCli(['init', db, '--base', base])).code).toBe(0);
    const o = await serve(db);
    try {
      expect((await o.ok('read_file', { path: '/sub/b.txt' })).content).toBe('from base\n');
      expect(await o.fail('read_file', { path: '/passwd-link' })).toMatch(/^ENOENT/);
      expect(await o.fail('read_file', { path: '/climb-link' })).toMatch(/^ENOENT/);
      expect(await o.fail('read_file', { path: '/sub/../../../etc/passwd' })).toMatch(/^ENOENT/);
      await o.ok('write_file', { path: '/sub/b.txt', content: 'changed' });
      await o.ok('write_file', { path: '../new.txt', content: 'new' });
      await o.ok('remove', { path: '/sub', recursive: true });
      expect((await o.ok<{ entries: { name: string }[] }>('readdir', {})).entries.map((e) => e.name)).toEqual([
        'climb-link',
        'new.txt',
        'passwd-link',
      ]);
      // the base directory (and its parent) are byte-identical
      expect(readFileSync(join(base, 'sub', 'b.txt'), 'utf8')).toBe('from base\n');
      expect(readdirSync(base).sort()).toEqual(['climb-link', 'passwd-link', 'sub']);
      expect(existsSync(join(t.dir, 'new.txt'))).toBe(false);
    } finally {
      await o.close();
      t.cleanup();
    }
  });
});
