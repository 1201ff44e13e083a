// Where the microseconds of an SDK writeFile (a new 4 KiB file, the one-statement create of
// src/core/fs/ops/create-alone.ts) go: the statement as the SDK runs it, then with one part taken
// out at a time, and bare libsql's BEGIN, three inserts, COMMIT (as bench/suites/sdk.js). Each
// variant runs in a fresh process after `sync` (the previous variant's dirty pages would otherwise
// be written back during the next one), rounds alternate, medians are printed.
//   node bench/sdk-write-parts.js            all variants, BENCH_PARTS_ROUNDS rounds (default 5)
//   node bench/sdk-write-parts.js 'variant'  one run of one variant (what the driver spawns)
//   BENCH_PARTS_ONLY='variant,...'           only those, beside bare and the whole statement
//   BENCH_PARTS_PRAGMA='PRAGMA ...'          run first on our connection (BENCH_PARTS_PRAGMA_BARE: on bare's),
//                                            e.g. wal_autocheckpoint: 250-4000 measured no better than the default
import { execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'libsql';
import { AgentFS } from '../dist/index.js';
import { SPEC_TEXT_TABLES as SPEC_TABLES } from '../dist/store/schema.js';
import { nowNs } from '../dist/core/fs/time.js';
import { median } from './median.js';

const N = 2000;
const payload = Buffer.alloc(4096, 'a');

/** The view, trigger and insert an agent made, renamed so that an edited copy sits beside them. */
async function ours(dir, edit) {
  const a = await AgentFS.open({ path: join(dir, 'ours.db') });
  await a.fs.mkdir('/bench');
  await a.fs.writeFile('/bench/warm', payload); // makes the view and trigger, remembers /bench
  const store = a.agent.store; // not part of the SDK's surface: a bench may look inside
  const db = store.db;
  if (process.env.BENCH_PARTS_PRAGMA) db.exec(process.env.BENCH_PARTS_PRAGMA);
  const sqlOf = (name) => db.prepare('SELECT sql FROM sqlite_temp_master WHERE name = ?').get(name).sql;
  const insert = [...store.statements.keys()].find((k) => k.includes('temp.agentfs_file_create'));
  const made = [
    sqlOf('agentfs_file_create').replace('agentfs_file_create', 'parts_view').replace('CREATE VIEW', 'CREATE TEMP VIEW'),
    sqlOf('agentfs_file_creating').replace('agentfs_file_creating', 'parts_trigger').replace(' ON agentfs_file_create', ' ON parts_view').replace('CREATE TRIGGER', 'CREATE TEMP TRIGGER'),
    insert.replace('temp.agentfs_file_create', 'temp.parts_view'),
  ];
  const edited = edit(made, db);
  if (edit !== asIs && edited.join() === made.join() && !edit.dropsIndexes) throw new Error('the edit found nothing to take out: the SQL changed');
  db.exec(edited[0]);
  db.exec(edited[1]);
  const st = db.prepare(edited[2]);
  const dir0 = a.agent.inode.lookup(1, 'bench');
  let ino = Number(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'fs_inode'").get().seq) + 1;
  // the values createAlone binds: inode number, directory, name, mode, owner, size, times, data,
  // the directory as seen, the journal's values, then the path check's name and inode
  const op = (k) => {
    const t = nowNs();
    st.run(ino++, dir0.ino, `f${k}`, 0o100644, 0, 0, 4096, Number(t / 1000000000n), Number(t % 1000000000n), payload,
      dir0.mode, dir0.uid, dir0.gid, t, nowNs(), `/bench/f${k}`, null, process.pid, 'bench', dir0.ino);
  };
  return { op, close: () => a.close() };
}

function bare(dir) {
  const db = new Database(join(dir, 'bare.db'));
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  for (const s of SPEC_TABLES) db.exec(s);
  if (process.env.BENCH_PARTS_PRAGMA_BARE) db.exec(process.env.BENCH_PARTS_PRAGMA_BARE);
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const inode = db.prepare(`INSERT INTO fs_inode (mode, nlink, uid, gid, size, atime, mtime, ctime, rdev, atime_nsec, mtime_nsec, ctime_nsec)
    VALUES (?, 1, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`);
  const dentry = db.prepare('INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (?, ?, ?)');
  const chunk = db.prepare('INSERT INTO fs_data (ino, chunk_index, data) VALUES (?, 0, ?)');
  const op = (k) => {
    const t = nowNs();
    const s = Number(t / 1000000000n);
    const ns = Number(t % 1000000000n);
    begin.run();
    const ino = inode.run(0o100644, 0, 0, 4096, s, s, s, ns, ns, ns).lastInsertRowid;
    dentry.run(`f${k}`, 2, ino);
    chunk.run(ino, payload);
    commit.run();
  };
  return { op, close: () => db.close() };
}

const asIs = (m) => m;
const inTrigger = (re, by = '') => ([v, t, i]) => [v, t.replace(re, by), i];
/** An edit that keeps the SQL and drops indexes of fs_dentry instead. */
const dropping = (...indexes) => Object.assign((m, db) => {
  for (const i of indexes) db.exec(`DROP INDEX ${i}`);
  return m;
}, { dropsIndexes: true });

const VARIANTS = {
  'as the SDK runs it': asIs,
  'without the path check': ([v, t, i]) => [v, t, i.replace(/EXISTS \(SELECT 1 FROM fs_dentry d0 WHERE [^)]*\)/, '(1 OR ? IS ?)')],
  'without the inode number check': inTrigger(/SELECT RAISE\(ABORT, 'agentfs: inode number taken'\)[^;]*;/),
  'without the times check': inTrigger(/AND \(ctime < NEW\.sec OR \(ctime = NEW\.sec AND ctime_nsec <= NEW\.nsec\)\)/),
  'without the journal rows': inTrigger(/SELECT RAISE\(ABORT, 'agentfs: inline values stale[\s\S]*?WHERE NEW\.size > 0;/),
  'without the directory times': inTrigger(/UPDATE fs_inode[\s\S]*?changes\(\) = 0;/),
  'without our 2 dentry indexes': dropping('agentfs_idx_fs_dentry_ino', 'idx_fs_dentry_parent'),
  'without the (ino) index': dropping('agentfs_idx_fs_dentry_ino'),
  // the spec's idx_fs_dentry_parent as our files key it (DENTRY_PARENT_INDEX in src/store/schema.ts)
  'without the (parent_ino, id) index': dropping('idx_fs_dentry_parent'),
  'without the write journal row': inTrigger(/INSERT INTO agentfs_journal \(time_ns, end_ns[\s\S]*?WHERE NEW\.size > 0;/),
};

async function one(name) {
  const dir = mkdtempSync(join(tmpdir(), 'agentfs-parts-'));
  try {
    const { op, close } = name === 'bare' ? bare(dir) : await ours(dir, VARIANTS[name]);
    for (let k = 0; k < 100; k++) op(1e6 + k);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < N; k++) op(k);
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / N;
    await close();
    return us;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2]) {
  process.stdout.write(`${await one(process.argv[2])}\n`);
} else {
  const rounds = Number(process.env.BENCH_PARTS_ROUNDS ?? 5);
  // BENCH_PARTS_ONLY='variant,variant': those beside bare and the whole statement
  const only = process.env.BENCH_PARTS_ONLY?.split(',');
  const names = ['bare', ...(only ? ['as the SDK runs it', ...only] : Object.keys(VARIANTS))];
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      execSync('sync');
      times[n].push(Number(execFileSync(process.execPath, [fileURLToPath(import.meta.url), n], { encoding: 'utf8' })));
    }
  }
  const whole = median(times['as the SDK runs it']);
  for (const n of names) {
    const m = median(times[n]);
    const part = n === 'bare' || n === 'as the SDK runs it' ? '' : `  (the part taken out: ${(whole - m).toFixed(1)} µs)`;
    console.log(`${n.padEnd(32)} ${m.toFixed(1).padStart(6)} µs${part}`);
  }
}
