/**
 * Names that are not valid UTF-8 (issue #10, item 2): every way in refuses them with EILSEQ
 * (or keeps them apart); two different byte strings must never become one file.
 */
import Database from 'libsql';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { Store } from '../../src/store/index.js';
import { AgentFsFilesystem } from '../../src/sdk/fs.js';
import { CLI, run, tempDir } from '../support/cli.js';
import { forceUnmount, isMounted, mountBg, waitFor } from '../support/fuse.js';
import { startHranaServer } from '../support/hrana-server.js';
import { freshAgent, serve } from './mcp-harness.js';

const tmp = tempDir('agentfs-names-');
afterAll(() => tmp.cleanup());

/** bash, so that $'\xff' makes a raw byte */
const bash = (script: string, cwd = tmp.dir) => run('/bin/bash', ['-c', script], { cwd });
const agentfs = `'${process.execPath}' '${CLI}'`;

function withAgent<T>(db: string, fn: (a: Agent) => T): T {
  const a = Agent.open({ path: db });
  try {
    return fn(a);
  } finally {
    a.close();
  }
}

describe('CLI arguments that are not UTF-8', () => {
  it('refuses them with EILSEQ instead of merging two names into one', async () => {
    const db = join(tmp.dir, 'cli.db');
    expect((await bash(`${agentfs} init ${db}`)).code).toBe(0);
    const first = await bash(`${agentfs} fs write ${db} $'/bad\\xff\\xfe' x`);
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/^agentfs: .*EILSEQ.*UTF-8/);
    expect(first.stderr).toContain('\\xff\\xfe');
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    const second = await bash(`${agentfs} fs write ${db} $'/bad\\x80\\x81' OTHER`);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/EILSEQ/);
    expect(withAgent(db, (a) => a.paths.readdir('/'))).toEqual([]);
    // valid UTF-8 (including a real U+FFFD) still works
    const good = await bash(`${agentfs} fs write ${db} $'/ok-\\xc3\\xa9-\\xef\\xbf\\xbd' y`);
    expect(good.stderr).toBe('');
    expect(withAgent(db, (a) => a.paths.readdir('/'))).toEqual(['ok-é-\uFFFD']);
  });
});

describe('SDK and core', () => {
  it('refuses lone surrogates and non-UTF-8 Buffers with EILSEQ; a UTF-8 Buffer path works', async () => {
    const db = join(tmp.dir, 'sdk.db');
    const a = Agent.open({ path: db }, { create: true });
    try {
      const fs = new AgentFsFilesystem(a.paths);
      await expect(fs.writeFile('/bad\ud800', 'x')).rejects.toMatchObject({ code: 'EILSEQ' });
      await expect(fs.writeFile('/bad\udfff', 'y')).rejects.toMatchObject({ code: 'EILSEQ' });
      await expect(fs.mkdir('/d\ud800')).rejects.toMatchObject({ code: 'EILSEQ' });
      await expect(fs.symlink('t\ud800', '/l')).rejects.toMatchObject({ code: 'EILSEQ' });
      const raw = Buffer.from([0x2f, 0x62, 0xff]); // "/b\xff"
      await expect(fs.writeFile(raw as unknown as string, 'x')).rejects.toMatchObject({ code: 'EILSEQ' });
      await fs.writeFile(Buffer.from('/café') as unknown as string, 'z');
      expect(await fs.readFile('/café', 'utf8')).toBe('z');
      expect(await fs.readdir('/')).toEqual(['café']);
      // the core FileSystem itself, below the SDK
      expect(() => a.fs.create(a.fs.rootIno, 'x\ud800', 0o644, { uid: 0, gid: 0 })).toThrow(/EILSEQ/);
      expect(() => a.fs.lookup(a.fs.rootIno, '\udc00')).toThrow(/EILSEQ/);
    } finally {
      a.close();
    }
  });

  it('kv keys with a lone surrogate are refused (EILSEQ), not merged into one U+FFFD key', () => {
    const a = Agent.open({ path: join(tmp.dir, 'kv.db') }, { create: true });
    try {
      expect(() => a.kv.set('k\ud800', 1)).toThrow(expect.objectContaining({ code: 'EILSEQ' }));
      expect(() => a.kv.set('k\udbff', 2)).toThrow(expect.objectContaining({ code: 'EILSEQ' }));
      a.kv.set('k\ud83d\ude00', 3); // a proper pair is fine
      expect(a.kv.list().map((e) => e.key)).toEqual(['k\u{1f600}']);
    } finally {
      a.close();
    }
  });

  it('an overlay base with names that are not UTF-8 shows them neither merged nor mangled', () => {
    const base = join(tmp.dir, 'base');
    mkdirSync(base);
    writeFileSync(Buffer.concat([Buffer.from(join(base, 'bad')), Buffer.from([0xff])]), 'one');
    writeFileSync(Buffer.concat([Buffer.from(join(base, 'bad')), Buffer.from([0xfe])]), 'two');
    writeFileSync(join(base, 'good'), 'three');
    writeFileSync(join(base, 'bad\ufffd'), 'a real U+FFFD'); // what both would decode to
    symlinkSync(Buffer.from([0x74, 0xff]), join(base, 'link')); // target "t\xff"
    symlinkSync('fine', join(base, 'link2'));
    const store = Store.open({ path: join(tmp.dir, 'ov.db') }, { create: true });
    const ov = new OverlayFs(store, base, { delta: new InodeFs(store) });
    try {
      const names = ov.readdir(ov.rootIno, 0, 100).map((e) => e.name);
      expect(names).toEqual(['bad\ufffd', 'good', 'link', 'link2']);
      // a target that is not UTF-8 is not handed out (or copied up) as another one
      expect(() => ov.readlink(ov.lookup(ov.rootIno, 'link').ino)).toThrow(/EILSEQ/);
      expect(ov.readlink(ov.lookup(ov.rootIno, 'link2').ino)).toBe('fine');
      expect(() => ov.lookup(ov.rootIno, 'bad\ud800')).toThrow(/EILSEQ/);
    } finally {
      ov.close();
      store.close();
    }
  });
});

describe('MCP', () => {
  it('refuses a path with a lone surrogate (JSON "\\ud800") with EILSEQ', async () => {
    const agent = freshAgent();
    const s = await serve(agent.db);
    try {
      expect(await s.fail('write_file', { path: '/x\ud800', content: 'a' })).toMatch(/EILSEQ/);
      expect(await s.fail('mkdir', { path: '/y\udc00' })).toMatch(/EILSEQ/);
      expect(withAgent(agent.db, (a) => a.paths.readdir('/'))).toEqual([]);
    } finally {
      await s.close();
      agent.cleanup();
    }
  });
});

describe('FUSE mount', () => {
  const db = join(tmp.dir, 'mnt.db');
  const mnt = join(tmp.dir, 'mnt');
  let pid: number | undefined;

  beforeAll(async () => {
    mkdirSync(mnt);
    expect((await bash(`${agentfs} init ${db}`)).code).toBe(0);
    pid = await mountBg(db, mnt);
  });
  afterAll(async () => {
    await forceUnmount(mnt, pid);
  });

  it('refuses to create (or look up) a name that is not UTF-8 with EILSEQ', async () => {
    expect(isMounted(mnt)).toBe(true);
    const r = await bash(
      `touch $'nu\\xff\\xfe' 2>&1; echo "rc=$?"; mkdir $'d\\x80' 2>&1; echo "rc=$?"; ` +
        `ln -s x $'l\\xc0\\xaf' 2>&1; echo "rc=$?"; ln -s $'t\\xff' target-not-utf8 2>&1; echo "rc=$?"; ` +
        `touch ok; mv ok $'m\\xed\\xa0\\x80' 2>&1; echo "rc=$?"; ls -A`,
      mnt,
    );
    expect(r.stdout).toMatch(/Invalid or incomplete multibyte or wide character/);
    expect(r.stdout).not.toMatch(/rc=0/);
    expect(r.stdout.trim().split('\n').pop()).toBe('ok');
    // the mount commits every few milliseconds (group commit): wait for that, then only `ok` is there
    const names = () => withAgent(db, (a) => a.paths.readdir('/'));
    await waitFor(() => names().length > 0, 5_000);
    expect(names()).toEqual(['ok']);
  });
});

describe('sync pull', () => {
  it('refuses a remote whose names are not UTF-8 and changes nothing', async () => {
    const remoteDb = join(tmp.dir, 'remote.db');
    const server = await startHranaServer({ db: remoteDb, token: 't' });
    const env = 'TURSO_AUTH_TOKEN=t';
    try {
      const src = join(tmp.dir, 'sync-src.db');
      const dst = join(tmp.dir, 'sync-dst.db');
      expect((await bash(`${agentfs} init ${src} && ${agentfs} init ${dst}`)).code).toBe(0);
      withAgent(src, (a) => {
        a.paths.writeFile('/bad1', 'one');
        a.paths.writeFile('/bad2', 'two');
      });
      const push = await bash(`${env} ${agentfs} sync ${src} push --remote ${server.url}`);
      expect(push.stderr).toBe('');
      // the remote's names become raw bytes that are not UTF-8 (another writer, or damage)
      const r = new Database(remoteDb);
      r.prepare("UPDATE fs_dentry SET name = CAST(X'626164ff' AS TEXT) WHERE name = 'bad1'").run();
      r.prepare("UPDATE fs_dentry SET name = CAST(X'626164fe' AS TEXT) WHERE name = 'bad2'").run();
      r.close();
      const pull = await bash(`${env} ${agentfs} sync ${dst} pull --remote ${server.url}`);
      expect(pull.code).not.toBe(0);
      expect(pull.stderr).toMatch(/^agentfs: .*EILSEQ/);
      expect(pull.stderr.trim().split('\n')).toHaveLength(1);
      expect(withAgent(dst, (a) => a.paths.readdir('/'))).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
