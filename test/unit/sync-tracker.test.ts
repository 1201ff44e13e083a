import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { LocalSyncState, type RowKey } from '../../src/core/sync-state/index.js';

const keys = (s: LocalSyncState) => [...s.tracker.changedKeys()].map((k: RowKey) => `${k.tbl}:${k.k1}:${k.k2}`).sort();

describe('sync change tracking', () => {
  let agent: Agent | undefined;
  afterEach(() => agent?.close());

  const open = () => {
    agent = Agent.open({});
    const s = new LocalSyncState(agent.store);
    s.tracker.enable();
    s.tracker.clearAll();
    return { a: agent, s };
  };

  it('records inserted, updated and deleted rows of every spec table by key', () => {
    const { a, s } = open();
    a.paths.writeFile('/f.txt', Buffer.alloc(5000, 1));
    a.kv.set('k', 1);
    const ino = a.paths.stat('/f.txt').ino;
    expect(keys(s)).toEqual(
      expect.arrayContaining([`fs_inode:${ino}:0`, `fs_data:${ino}:0`, `fs_data:${ino}:1`, 'fs_inode:1:0', 'kv_store:k:0']),
    );
    expect(keys(s).some((k) => k.startsWith('fs_dentry:'))).toBe(true);
    s.tracker.clearAll();
    a.paths.truncate('/f.txt', 10); // chunk 1 deleted, chunk 0 rewritten
    a.kv.delete('k');
    expect(keys(s)).toEqual(expect.arrayContaining([`fs_data:${ino}:1`, `fs_inode:${ino}:0`, 'kv_store:k:0']));
    const pages = s.tracker.changedRows('fs_data', undefined, 100);
    expect(pages.find((r) => r.key.k2 === 1n)?.present).toBe(false);
  });

  it('does not count an atime-only update as a change', () => {
    const { a, s } = open();
    a.paths.writeFile('/r.txt', 'x');
    const ino = a.paths.stat('/r.txt').ino;
    s.tracker.clearAll();
    a.store.db.prepare('UPDATE fs_inode SET atime = atime + 100, atime_nsec = 5 WHERE ino = ?').run(ino);
    expect(keys(s)).toEqual([]);
    a.store.db.prepare('UPDATE fs_inode SET mtime = mtime + 1 WHERE ino = ?').run(ino);
    expect(keys(s)).toEqual([`fs_inode:${ino}:0`]);
  });

  it('separates changes made after a generation bump from those before', () => {
    const { a, s } = open();
    a.kv.set('before', 1);
    const gen = s.tracker.bumpGeneration();
    expect(s.tracker.hasChangesAfter(gen)).toBe(false);
    a.kv.set('after', 2);
    expect(s.tracker.hasChangesAfter(gen)).toBe(true);
    s.tracker.clearThrough(gen);
    expect(keys(s)).toEqual(['kv_store:after:0']);
  });

  it('renumbers an inode with every reference to it, and forgets the old keys', () => {
    const { a, s } = open();
    a.paths.mkdir('/dir');
    a.paths.writeFile('/dir/f', Buffer.alloc(4097, 2));
    const dir = a.paths.stat('/dir').ino;
    const f = a.paths.stat('/dir/f').ino;
    const moved = s.info.renumberInodes([BigInt(dir), BigInt(f)], 1000n);
    s.tracker.forgetIds(['fs_inode', 'fs_data', 'fs_symlink', 'fs_origin'], moved.keys());
    expect(a.paths.readFile('/dir/f')).toEqual(Buffer.alloc(4097, 2));
    expect(a.paths.stat('/dir').ino).toBe(1000);
    expect(a.paths.stat('/dir/f').ino).toBe(1001);
    expect(keys(s).filter((k) => k === `fs_inode:${dir}:0` || k === `fs_data:${f}:0`)).toEqual([]);
    expect(keys(s)).toEqual(expect.arrayContaining(['fs_inode:1000:0', 'fs_inode:1001:0', 'fs_data:1001:1']));
  });

  it('merges a directory changed on both sides: later times, nlink recounted', () => {
    const { a, s } = open();
    a.paths.mkdir('/d');
    a.paths.mkdir('/d/sub1');
    a.paths.mkdir('/d/sub2');
    const d = a.paths.stat('/d').ino;
    const ours = s.info.dirTimes(d)!;
    // as if the remote's older row (nlink without our subdirectories) had been applied
    a.store.db.prepare('UPDATE fs_inode SET nlink = 2, mtime = 1, mtime_nsec = 0, ctime = 1, ctime_nsec = 0 WHERE ino = ?').run(d);
    s.info.mergeDirectory(d, ours);
    const st = a.paths.stat('/d');
    expect(st.nlink).toBe(4);
    expect(st.mtime).toEqual({ sec: ours.mtime, nsec: ours.mtime_nsec });
  });
});

describe('sync change tracking triggers', () => {
  it('an update marks its key once, the old key too only when it moved; older triggers are replaced', () => {
    const agent = Agent.open({});
    try {
      // the single update trigger of older versions, as a database synced by them has it
      agent.store.db.exec(`CREATE TABLE IF NOT EXISTS agentfs_sync_gen (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL)`);
      agent.store.db.exec(`CREATE TRIGGER agentfs_sync_kv_store_upd AFTER UPDATE ON kv_store BEGIN SELECT 1; END`);
      const s = new LocalSyncState(agent.store);
      s.tracker.enable();
      const triggers = (agent.store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'agentfs_sync_kv_store_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      expect(triggers).toEqual(['agentfs_sync_kv_store_del', 'agentfs_sync_kv_store_ins', 'agentfs_sync_kv_store_upd_new', 'agentfs_sync_kv_store_upd_old']);
      agent.kv.set('a', 1);
      s.tracker.clearAll();
      agent.kv.set('a', 2);
      expect(keys(s)).toEqual(['kv_store:a:0']);
      s.tracker.clearAll();
      agent.store.db.prepare("UPDATE kv_store SET key = 'b' WHERE key = 'a'").run();
      expect(keys(s)).toEqual(['kv_store:a:0', 'kv_store:b:0']);
    } finally {
      agent.close();
    }
  });
});
