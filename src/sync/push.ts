import { nanoid } from 'nanoid';
import type { InStatement, InValue } from '@libsql/client';
import { SYNCED_TABLES, keyExprs, keyId, type LocalSyncState, type RowKey, type SyncRow, type PendingPush } from '../core/sync-state/index.js';
import { SyncConflictError, SyncError } from './errors.js';
import { toArg, redact, type RemoteDb, type TransferResult } from './remote.js';
import { ensureBookkeeping, inspectRemote, stageDdl, stageTable, SPEC_DDL, type RemoteInfo } from './remote-schema.js';
import { remoteChangedKeys, pageRows } from './remote-rows.js';
import { findConflicts } from './conflicts.js';
import { collisionUnits, findIdCollisions, renumberCollisions } from './tool-calls.js';
import { createProgress, type Progress } from './progress.js';
import { MemoryRelief } from './memory.js';
import { finalizeCommittedPush, foreignRevisions, recordPushed } from './revisions.js';
import { dropUnfilledFileRemote } from './file-remote.js';

export interface PushOptions {
  /** ours wins where both sides changed the same thing */
  force?: boolean;
  progress?: Progress;
}

export interface PushResult extends TransferResult {
  /** an interrupted push was finished */
  resumed: boolean;
  /** the remote still has changes from elsewhere that a pull would bring */
  remoteAhead: boolean;
  /** conflicts settled by --force (ours won) */
  conflictsResolved: number;
}

/** Bytes per staging request (before base64/JSON), and bound parameters per statement. */
const REQUEST_BYTES = 1 << 20;
const MAX_PARAMS = 900;

/**
 * Push: send this agent's changes since the last sync to the remote, as one new revision.
 * Rows go to remote staging tables in as many requests as needed (memory stays bounded), then a
 * single transaction applies them, so the remote is never seen half-pushed; a push killed part-way
 * resumes where it stopped when re-run (or restarts if the agent changed meanwhile).
 */
export async function push(local: LocalSyncState, remote: RemoteDb, options: PushOptions = {}): Promise<PushResult> {
  try {
    return await pushChanges(local, remote, options);
  } catch (e) {
    // a first push that found no room in the file it created leaves no empty remote behind
    // (only then: a push that failed otherwise, a lock timeout, may share the new file with another)
    if (e instanceof SyncError && e.code === 'no-space') await dropUnfilledFileRemote(remote).catch(() => undefined);
    throw e;
  }
}

async function pushChanges(local: LocalSyncState, remote: RemoteDb, options: PushOptions): Promise<PushResult> {
  const t0 = Date.now();
  const progress = options.progress ?? createProgress('push');
  let info = await inspectRemote(remote);
  if (await finalizeCommittedPush(local, remote, info)) info = await inspectRemote(remote);
  const mem = local.memory.read();
  const tracker = local.tracker;
  const synced = mem.baseRevision !== undefined && info.tracked && mem.remoteDbId === info.dbId;
  const full = !synced;
  let renumbered = 0;
  let conflictsResolved = 0;
  let remoteAhead = false;
  let baseWasCurrent = true;
  const heldBack: RowKey[] = [];

  if (full) {
    if (!info.empty && !info.agentEmpty && !options.force) {
      throw new SyncError(
        `remote ${redact(remote.url)} already holds an agent this one never synced with; nothing was changed (use \`push --force\` to replace it, or \`pull --theirs\` to take it)`,
        'conflict',
      );
    }
  } else {
    const base = mem.baseRevision!;
    const foreign = foreignRevisions(info.revision, base, mem.ownRevisions);
    if (foreign) {
      baseWasCurrent = false;
      const remoteKeys = await remoteChangedKeys(remote, base, mem.ownRevisions);
      const localKeys = tracker.tracking ? [...tracker.changedKeys()] : [];
      const collisions = findIdCollisions(local, mem, remoteKeys);
      const conflicts = await findConflicts(local.info, remote, localKeys, remoteKeys, info.columns.get('fs_dentry') ?? [], collisionUnits(collisions));
      if (conflicts.units.size && !options.force) throw new SyncConflictError('push', conflicts.names);
      conflictsResolved = conflicts.units.size;
      renumbered = await renumberCollisions(local, remote, collisions);
      // ours wins: send our version (or our deletion) of every row of the conflicting units
      if (conflicts.units.size) tracker.markChanged(conflicts.keys);
      // a directory both sides changed is merged by the next pull; until then the remote keeps its row
      for (const ino of conflicts.dirMerges) heldBack.push({ tbl: 'fs_inode', k1: ino, k2: 0n });
      const overwritten = new Set(conflicts.keys.map(keyId));
      remoteAhead = remoteKeys.some((k) => !overwritten.has(keyId(k)));
    }
    if (!tracker.tracking || !tracker.changeCounts().size) {
      return done(t0, remote, { upToDate: true, full: false, resumed: false, revision: info.revision, rows: 0, deletes: 0, renumberedToolCalls: renumbered, remoteAhead, conflictsResolved });
    }
  }

  // What we send: every row (full) or the changed ones, from one local snapshot.
  const wasTracking = tracker.tracking;
  tracker.enable();
  if (!wasTracking) tracker.clearAll();
  let pending = mem.pendingPush;
  const canResume =
    pending !== undefined &&
    info.tracked &&
    pending.full === full &&
    pending.expectedRevision === info.revision &&
    !tracker.hasChangesAfter(pending.gen) &&
    (await remote.execute('SELECT 1 FROM agentfs_sync_pushes WHERE push_id = ?', [pending.pushId])).rows.length > 0;
  const stale = pending && !canResume ? pending.pushId : undefined;
  if (!canResume) {
    const gen = tracker.bumpGeneration();
    pending = {
      pushId: nanoid(),
      gen,
      expectedRevision: info.revision,
      full,
      baseWasCurrent,
      toolMax: Number(local.info.maxToolCallId()),
      inoMax: Number(local.info.maxIno()),
      dentryMax: Number(local.info.maxDentryId()),
    };
    local.memory.write({ pendingPush: pending });
  }
  const p = pending!;
  const dbId = info.tracked && info.dbId ? info.dbId : await ensureBookkeeping(remote);
  const columns = pushColumns(local, info);
  await prepareStaging(remote, columns, p, stale);
  const cursors = canResume ? await stagedCursors(remote, p.pushId) : new Map<string, RowKey>();

  const total = full ? local.info.syncedRowCount() : [...tracker.changeCounts().values()].reduce((a, b) => a + b, 0);
  progress.start(total);
  let rows = 0;
  let deletes = 0;
  const batch = new StagingBatch(remote, p.pushId, progress);
  const held = new Set(heldBack.map(keyId));
  tracker.beginSnapshot();
  try {
    for (const t of SYNCED_TABLES) {
      const cols = columns.get(t.name)!;
      const limit = pageRows(t.name, local.info.chunkSize());
      let after = cursors.get(t.name);
      for (;;) {
        const page = full ? tracker.allRows(t.name, after, limit) : tracker.changedRows(t.name, after, limit);
        for (const row of page) {
          if (held.has(keyId(row.key))) continue;
          if (!row.present) {
            if (t.appendOnly) continue;
            deletes++;
            await batch.addDeletion(row.key);
          } else {
            rows++;
            await batch.addRow(t.name, cols.names, pick(row, cols.indexes));
          }
        }
        if (page.length < limit) break;
        after = page[page.length - 1]!.key;
      }
    }
  } catch (e) {
    progress.stop(); // gives the terminal its cursor back before the error line
    throw e;
  } finally {
    tracker.endSnapshot();
  }

  const apply = applyStatements(info, columns, p, info.revision + 1, dbId, rows + deletes);
  let newRevision: number;
  try {
    newRevision = await commit(remote, batch, apply, p.pushId, info.revision + 1);
  } finally {
    progress.stop();
  }
  recordPushed(local, p, newRevision, dbId, mem, { rows: rows + deletes, t0, remote, conflictsResolved });
  if (heldBack.length) tracker.markChanged(heldBack);
  return done(t0, remote, { upToDate: false, full, resumed: canResume, revision: newRevision, rows, deletes, renumberedToolCalls: renumbered, remoteAhead, conflictsResolved });
}

/**
 * Sends the final transaction; returns the revision it made. It is not blindly repeatable, so after
 * a timeout or a lost connection we ask whether it landed (its push id is in
 * agentfs_sync_revisions) and send it once more only if it did not: the revision guard in it
 * makes a second apply impossible, so the remote ends old or new, never both or half.
 */
async function commit(remote: RemoteDb, batch: StagingBatch, apply: InStatement[], pushId: string, revision: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await batch.flush(apply);
      return revision;
    } catch (e) {
      const guard = e instanceof SyncError && /CHECK constraint failed/.test(e.message) && /msg = ''/.test(e.message);
      if (!(e instanceof SyncError) || !(e.transient || guard)) throw e;
      let landed: number | undefined;
      try {
        landed = await landedRevision(remote, pushId);
      } catch (e2) {
        if (e2 instanceof SyncError && e2.transient) {
          throw new SyncError(`${e.message}; the push may or may not have been applied: run it again to find out and finish it`, e.code);
        }
        throw e2;
      }
      if (landed !== undefined) return landed;
      if (guard) throw new SyncError('the remote changed while pushing (another push finished first); nothing was applied: run the push again', 'busy');
      if (attempt >= 2) throw e;
    }
  }
}

async function landedRevision(remote: RemoteDb, pushId: string): Promise<number | undefined> {
  const rs = await remote.execute('SELECT revision FROM agentfs_sync_revisions WHERE push_id = ?', [pushId]);
  return rs.rows[0] ? Number(rs.rows[0][0]) : undefined;
}

function done(t0: number, remote: RemoteDb, r: Omit<PushResult, 'requests' | 'bytes' | 'seconds'>): PushResult {
  return { ...r, requests: remote.traffic.requests, bytes: remote.traffic.bytesSent + remote.traffic.bytesReceived, seconds: (Date.now() - t0) / 1000 };
}

interface PushColumns {
  names: string[];
  /** positions of those columns in the local row */
  indexes: number[];
  keys: readonly string[];
}

/** Columns to send per table: ours, limited to those the remote table has (if it has the table). */
function pushColumns(local: LocalSyncState, info: RemoteInfo): Map<string, PushColumns> {
  const out = new Map<string, PushColumns>();
  for (const t of SYNCED_TABLES) {
    const localCols = local.tracker.columns(t.name);
    const remoteCols = info.columns.get(t.name);
    const keep = localCols.map((c, i) => ({ c, i })).filter(({ c }) => !remoteCols || remoteCols.includes(c.name));
    out.set(t.name, { names: keep.map((k) => k.c.name), indexes: keep.map((k) => k.i), keys: t.keys });
  }
  return out;
}

function pick(row: SyncRow, indexes: number[]): InValue[] {
  return indexes.map((i) => toArg(row.values[i]));
}

async function prepareStaging(remote: RemoteDb, columns: Map<string, PushColumns>, p: PendingPush, stale: string | undefined): Promise<void> {
  const stmts: InStatement[] = [];
  for (const t of SYNCED_TABLES) {
    const cols = columns.get(t.name)!;
    // untyped staging columns keep values exactly as sent; the target table's affinity applies on apply
    stmts.push({ sql: stageDdl(t.name, t.keys, cols.names.map((n) => ({ name: n, type: '' }))), args: [] });
  }
  const dayAgo = BigInt(Math.floor(Date.now() / 1000) - 86400);
  const old = stale ? [stale] : [];
  for (const id of old) {
    for (const t of SYNCED_TABLES) stmts.push({ sql: `DELETE FROM ${stageTable(t.name)} WHERE push_id = ?`, args: [id] });
    stmts.push({ sql: 'DELETE FROM agentfs_sync_stage_del WHERE push_id = ?', args: [id] });
    stmts.push({ sql: 'DELETE FROM agentfs_sync_pushes WHERE push_id = ?', args: [id] });
  }
  // pushes abandoned by any machine more than a day ago
  for (const t of SYNCED_TABLES) {
    stmts.push({ sql: `DELETE FROM ${stageTable(t.name)} WHERE push_id IN (SELECT push_id FROM agentfs_sync_pushes WHERE started_at < ?)`, args: [dayAgo] });
  }
  stmts.push({ sql: 'DELETE FROM agentfs_sync_stage_del WHERE push_id IN (SELECT push_id FROM agentfs_sync_pushes WHERE started_at < ?)', args: [dayAgo] });
  stmts.push({ sql: 'DELETE FROM agentfs_sync_pushes WHERE started_at < ?', args: [dayAgo] });
  stmts.push({ sql: 'INSERT OR IGNORE INTO agentfs_sync_pushes (push_id, started_at) VALUES (?, ?)', args: [p.pushId, BigInt(Math.floor(Date.now() / 1000))] });
  await remote.batch(stmts, 'write');
}

/** Where a resumed push stands: the last key staged per table (rows and deletions alike). */
async function stagedCursors(remote: RemoteDb, pushId: string): Promise<Map<string, RowKey>> {
  const stmts: InStatement[] = SYNCED_TABLES.map((t) => {
    const [k1, k2] = keyExprs(t, 's');
    return {
      sql: `SELECT k1, k2 FROM (SELECT ${k1} AS k1, ${k2} AS k2 FROM ${stageTable(t.name)} s WHERE s.push_id = ?
              UNION ALL SELECT k1, k2 FROM agentfs_sync_stage_del WHERE push_id = ? AND tbl = '${t.name}')
            ORDER BY k1 DESC, k2 DESC LIMIT 1`,
      args: [pushId, pushId],
    };
  });
  const results = await remote.batch(stmts, 'read');
  const out = new Map<string, RowKey>();
  SYNCED_TABLES.forEach((t, i) => {
    const r = results[i]!.rows[0];
    if (r) out.set(t.name, { tbl: t.name, k1: r[0] as bigint | string, k2: BigInt(r[1] as bigint) });
  });
  return out;
}

/** The one transaction that turns the staged rows into the new revision. */
function applyStatements(info: RemoteInfo, columns: Map<string, PushColumns>, p: PendingPush, revision: number, dbId: string, rowCount: number): InStatement[] {
  const rev = BigInt(revision);
  const id = p.pushId;
  const s: InStatement[] = [];
  // the spec tables the remote lacks (a fresh database gets the whole schema here, atomically)
  if (info.empty || SYNCED_TABLES.some((t) => !info.tables.has(t.name))) for (const sql of SPEC_DDL) s.push({ sql, args: [] });
  s.push({
    sql: "INSERT INTO agentfs_sync_guard (msg) SELECT 'the remote revision moved' WHERE coalesce((SELECT revision FROM agentfs_sync_state WHERE id = 1), 0) IS NOT ?",
    args: [BigInt(p.expectedRevision)],
  });
  for (const t of SYNCED_TABLES) {
    const [k1, k2] = keyExprs(t, t.name);
    if (p.full) {
      s.push({ sql: `INSERT OR REPLACE INTO agentfs_sync_rows (tbl, k1, k2, revision) SELECT '${t.name}', ${k1}, ${k2}, ? FROM ${t.name}`, args: [rev] });
      s.push({ sql: `DELETE FROM ${t.name}`, args: [] });
    } else {
      s.push({
        sql: `DELETE FROM ${t.name} WHERE (${k1}, ${k2}) IN (SELECT k1, k2 FROM agentfs_sync_stage_del WHERE push_id = ? AND tbl = '${t.name}')`,
        args: [id],
      });
    }
  }
  for (const t of SYNCED_TABLES) {
    const cols = columns.get(t.name)!.names.map((n) => `"${n}"`).join(', ');
    const [k1, k2] = keyExprs(t, 's');
    s.push({ sql: `INSERT OR REPLACE INTO ${t.name} (${cols}) SELECT ${cols} FROM ${stageTable(t.name)} WHERE push_id = ?`, args: [id] });
    s.push({
      sql: `INSERT OR REPLACE INTO agentfs_sync_rows (tbl, k1, k2, revision) SELECT '${t.name}', ${k1}, ${k2}, ? FROM ${stageTable(t.name)} s WHERE s.push_id = ?`,
      args: [rev, id],
    });
    s.push({ sql: `DELETE FROM ${stageTable(t.name)} WHERE push_id = ?`, args: [id] });
  }
  s.push({ sql: 'INSERT OR REPLACE INTO agentfs_sync_rows (tbl, k1, k2, revision) SELECT tbl, k1, k2, ? FROM agentfs_sync_stage_del WHERE push_id = ?', args: [rev, id] });
  s.push({ sql: 'DELETE FROM agentfs_sync_stage_del WHERE push_id = ?', args: [id] });
  s.push({ sql: 'DELETE FROM agentfs_sync_pushes WHERE push_id = ?', args: [id] });
  const now = BigInt(Math.floor(Date.now() / 1000));
  s.push({
    sql: 'INSERT INTO agentfs_sync_state (id, revision, db_id, updated_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at',
    args: [rev, dbId, now],
  });
  s.push({
    sql: 'INSERT INTO agentfs_sync_revisions (revision, push_id, pushed_at, rows, full) VALUES (?, ?, ?, ?, ?)',
    args: [rev, id, now, BigInt(rowCount), p.full ? 1n : 0n],
  });
  return s;
}

/** Accumulates staging inserts into requests of bounded size. */
class StagingBatch {
  private stmts: InStatement[] = [];
  private bytes = 0;
  private rows = 0;
  private pendingRows = new Map<string, { names: string[]; values: InValue[][] }>();
  private pendingDeletes: RowKey[] = [];
  private readonly relief = new MemoryRelief();

  constructor(
    private readonly remote: RemoteDb,
    private readonly pushId: string,
    private readonly progress: Progress,
  ) {}

  async addRow(table: string, names: string[], values: InValue[]): Promise<void> {
    let entry = this.pendingRows.get(table);
    if (!entry) this.pendingRows.set(table, (entry = { names, values: [] }));
    entry.values.push(values);
    this.rows++;
    this.bytes += values.reduce<number>((n, v) => n + sizeOf(v), 16);
    if (entry.values.length * (names.length + 1) + names.length + 1 > MAX_PARAMS) this.seal(table);
    if (this.bytes >= REQUEST_BYTES) await this.send([]);
  }

  async addDeletion(key: RowKey): Promise<void> {
    this.pendingDeletes.push(key);
    this.rows++;
    this.bytes += 48;
    if (this.pendingDeletes.length >= 200) this.sealDeletes();
    if (this.bytes >= REQUEST_BYTES) await this.send([]);
  }

  /** Sends what is left together with the final statements, in one transaction. */
  async flush(tail: InStatement[]): Promise<void> {
    await this.send(tail);
  }

  private seal(table: string): void {
    const entry = this.pendingRows.get(table);
    if (!entry || !entry.values.length) return;
    const cols = ['push_id', ...entry.names].map((n) => `"${n}"`).join(', ');
    const one = `(${['?', ...entry.names.map(() => '?')].join(', ')})`;
    this.stmts.push({
      sql: `INSERT OR REPLACE INTO ${stageTable(table)} (${cols}) VALUES ${entry.values.map(() => one).join(', ')}`,
      args: entry.values.flatMap((v) => [this.pushId, ...v]),
    });
    this.pendingRows.delete(table);
  }

  private sealDeletes(): void {
    if (!this.pendingDeletes.length) return;
    this.stmts.push({
      sql: `INSERT OR REPLACE INTO agentfs_sync_stage_del (push_id, tbl, k1, k2) VALUES ${this.pendingDeletes.map(() => '(?, ?, ?, ?)').join(', ')}`,
      args: this.pendingDeletes.flatMap((k) => [this.pushId, k.tbl, k.k1, k.k2]),
    });
    this.pendingDeletes = [];
  }

  private async send(tail: InStatement[]): Promise<void> {
    for (const table of [...this.pendingRows.keys()]) this.seal(table);
    this.sealDeletes();
    const stmts = [...this.stmts, ...tail];
    if (!stmts.length) return;
    // staging rows are keyed by push id and row key, so a repeated staging request is harmless;
    // the final one (with the tail) is repeated only by commit(), after asking the remote
    await this.remote.batch(stmts, 'write', { retry: tail.length === 0 });
    this.progress.advance(this.rows, this.bytes);
    this.relief.moved(this.bytes);
    this.stmts = [];
    this.bytes = 0;
    this.rows = 0;
  }
}

function sizeOf(v: InValue): number {
  if (v instanceof Uint8Array) return v.byteLength;
  if (typeof v === 'string') return v.length;
  return 8;
}
