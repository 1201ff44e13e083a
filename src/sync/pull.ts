import { SYNCED_TABLES, keyId, type LocalSyncState, type RowKey } from '../core/sync-state/index.js';
import { SyncConflictError, SyncError } from './errors.js';
import { redact, type RemoteDb, type TransferResult } from './remote.js';
import { inspectRemote, type RemoteInfo } from './remote-schema.js';
import { pageRows, remoteAllRows, remoteChangedKeys, remoteChangedRows, remoteRowsByKey, type RemoteRow } from './remote-rows.js';
import { findConflicts, type Conflicts } from './conflicts.js';
import { collisionUnits, findIdCollisions, renumberCollisions } from './tool-calls.js';
import { createProgress, type Progress } from './progress.js';
import { finalizeCommittedPush, foreignRevisions } from './revisions.js';
import { MemoryRelief } from './memory.js';

export interface PullOptions {
  /** theirs wins where both sides changed the same thing */
  theirs?: boolean;
  /** ours wins where both sides changed the same thing (kept, and sent by the next push) */
  force?: boolean;
  progress?: Progress;
}

export interface PullResult extends TransferResult {
  conflictsResolved: number;
}

const ATTEMPTS = 3;

/**
 * Pull: bring the remote's changes since the revision this agent last matched (everything, the
 * first time). Rows are staged locally and applied in one local transaction; if a push lands on
 * the remote while we read, the pull starts over, so the agent never holds a mix of revisions.
 */
export async function pull(local: LocalSyncState, remote: RemoteDb, options: PullOptions = {}): Promise<PullResult> {
  const t0 = Date.now();
  const progress = options.progress ?? createProgress('pull');
  try {
    for (let attempt = 1; ; attempt++) {
      let info = await inspectRemote(remote);
      if (info.empty) throw new SyncError(`remote ${redact(remote.url)} holds no AgentFS database yet; push to it first`, 'not-found');
      if (await finalizeCommittedPush(local, remote, info)) info = await inspectRemote(remote);
      const result = await pullOnce(local, remote, info, options, progress, t0);
      if (result === 'moved') {
        if (attempt >= ATTEMPTS) throw new SyncError('the remote kept changing while pulling; nothing was changed: try again', 'busy');
        continue;
      }
      return {
        ...result,
        requests: remote.traffic.requests,
        bytes: remote.traffic.bytesSent + remote.traffic.bytesReceived,
        seconds: (Date.now() - t0) / 1000,
      };
    }
  } finally {
    progress.stop();
    local.incoming.dispose();
  }
}

type Outcome = Omit<PullResult, 'requests' | 'bytes' | 'seconds'>;

async function pullOnce(
  local: LocalSyncState,
  remote: RemoteDb,
  info: RemoteInfo,
  options: PullOptions,
  progress: Progress,
  t0: number,
): Promise<Outcome | 'moved'> {
  const mem = local.memory.read();
  const tracker = local.tracker;
  const remoteId = info.dbId ?? '';
  const synced = mem.baseRevision !== undefined && mem.remoteDbId === remoteId;
  const columns = commonColumns(local, info);

  // First pull, or a remote without our bookkeeping (no per-row revisions): take everything.
  if (!synced || !info.tracked) {
    const localChanged = !synced ? !local.info.isEmpty() : tracker.tracking && tracker.changeCounts().size > 0;
    if (localChanged && !options.theirs) {
      throw new SyncError(
        synced
          ? `this agent has changes the remote ${redact(remote.url)} cannot be compared with; nothing was changed (use \`pull --theirs\` to replace them, or \`push --force\`)`
          : `this agent already has content and never synced with remote ${redact(remote.url)}; nothing was changed (use \`pull --theirs\` to replace it with the remote's, or \`push --force\` to replace the remote)`,
        'conflict',
      );
    }
    local.incoming.begin(columns);
    const relief = new MemoryRelief();
    progress.start(await remoteRowCount(remote, info));
    let rows = 0;
    for (const t of SYNCED_TABLES) {
      if (!info.tables.has(t.name)) continue;
      const cols = local.incoming.columnNames(t.name);
      for await (const page of remoteAllRows(remote, t.name, cols, pageRows(t.name, info.chunkSize ?? 4096))) {
        for (const r of page) local.incoming.add(t.name, r.values);
        rows += page.length;
        const bytes = pageBytes(page);
        progress.advance(page.length, bytes);
        relief.moved(bytes);
      }
    }
    if (await revisionMoved(remote, info)) return 'moved';
    const marks = await remoteMarks(remote, info);
    tracker.enable();
    local.transaction(() => {
      local.incoming.apply(true);
      local.memory.write({
        remoteDbId: remoteId,
        baseRevision: info.revision,
        ownRevisions: [],
        ...marks,
        pendingPush: undefined,
        lastPull: record(info.revision, rows, remote, t0),
      });
      recordTransfer(local, remoteId, info.revision, rows, remote, 0);
    });
    return { upToDate: false, full: true, revision: info.revision, rows, deletes: 0, renumberedToolCalls: 0, conflictsResolved: 0 };
  }

  const base = mem.baseRevision!;
  if (!foreignRevisions(info.revision, base, mem.ownRevisions)) {
    local.memory.write({ baseRevision: Math.max(base, info.revision), ownRevisions: mem.ownRevisions.filter((r) => r > info.revision) });
    return { upToDate: true, full: false, revision: info.revision, rows: 0, deletes: 0, renumberedToolCalls: 0, conflictsResolved: 0 };
  }

  tracker.enable();
  const remoteKeys = await remoteChangedKeys(remote, base, mem.ownRevisions);
  const localKeys = [...tracker.changedKeys()];
  const collisions = findIdCollisions(local, mem, remoteKeys);
  const conflicts = await findConflicts(local.info, remote, localKeys, remoteKeys, info.columns.get('fs_dentry') ?? [], collisionUnits(collisions));
  if (conflicts.units.size && !options.theirs && !options.force) throw new SyncConflictError('pull', conflicts.names);
  const renumbered = await renumberCollisions(local, remote, collisions);

  const conflictKeys = new Set(conflicts.keys.map(keyId));
  const skip = (k: RowKey) => options.force === true && !options.theirs && conflictKeys.has(keyId(k));
  local.incoming.begin(columns);
  const relief = new MemoryRelief();
  progress.start(remoteKeys.length);
  let rows = 0;
  let deletes = 0;
  const take = (r: RemoteRow, appendOnly: boolean) => {
    if (skip(r.key)) return;
    if (r.present) {
      local.incoming.add(r.key.tbl, r.values);
      rows++;
    } else if (!appendOnly) {
      local.incoming.addDeletion(r.key);
      deletes++;
    }
  };
  for (const t of SYNCED_TABLES) {
    if (!info.tables.has(t.name)) continue;
    const cols = local.incoming.columnNames(t.name);
    for await (const page of remoteChangedRows(remote, t.name, cols, base, mem.ownRevisions, pageRows(t.name, info.chunkSize ?? 4096))) {
      for (const r of page) take(r, t.appendOnly === true);
      const bytes = pageBytes(page);
      progress.advance(page.length, bytes);
      relief.moved(bytes);
    }
  }
  if (options.theirs && conflicts.units.size) {
    // rows of conflicting units only we changed: take the remote's version (or its absence)
    const remoteSet = new Set(remoteKeys.map(keyId));
    for (const t of SYNCED_TABLES) {
      const ours = conflicts.keys.filter((k) => k.tbl === t.name && !remoteSet.has(keyId(k)));
      if (!ours.length) continue;
      if (!info.tables.has(t.name)) {
        for (const k of ours) take({ key: k, present: false, values: [] }, t.appendOnly === true);
        continue;
      }
      for (const r of await remoteRowsByKey(remote, t.name, local.incoming.columnNames(t.name), ours)) take(r, t.appendOnly === true);
    }
  }
  if (await revisionMoved(remote, info)) return 'moved';
  const marks = await remoteMarks(remote, info);
  const dirTimes = conflicts.dirMerges.map((ino) => ({ ino, ours: local.info.dirTimes(ino)! }));
  local.transaction(() => {
    local.incoming.apply(false);
    // merged directories differ from the remote's row: they stay marked for the next push
    for (const d of dirTimes) local.info.mergeDirectory(d.ino, d.ours);
    if (options.theirs) tracker.clearKeys(conflicts.keys);
    else if (options.force) keepOurs(local, conflicts);
    tracker.dropToolCallDeletions();
    local.memory.write({
      baseRevision: info.revision,
      ownRevisions: mem.ownRevisions.filter((r) => r > info.revision),
      ...marks,
      lastPull: record(info.revision, rows + deletes, remote, t0),
    });
    recordTransfer(local, remoteId, info.revision, rows + deletes, remote, conflicts.units.size);
  });
  return {
    upToDate: false,
    full: false,
    revision: info.revision,
    rows,
    deletes,
    renumberedToolCalls: renumbered,
    conflictsResolved: conflicts.units.size,
  };
}

/** Ours wins: every row of a conflicting unit is marked, so the next push sends our version. */
function keepOurs(local: LocalSyncState, conflicts: Conflicts): void {
  if (conflicts.keys.length) local.tracker.markChanged(conflicts.keys);
}

function commonColumns(local: LocalSyncState, info: RemoteInfo): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of SYNCED_TABLES) {
    const remoteCols = info.columns.get(t.name) ?? [];
    out.set(
      t.name,
      local.tracker
        .columns(t.name)
        .map((c) => c.name)
        .filter((n) => remoteCols.includes(n)),
    );
  }
  return out;
}

async function revisionMoved(remote: RemoteDb, info: RemoteInfo): Promise<boolean> {
  if (!info.tracked) return false;
  const rs = await remote.execute('SELECT revision FROM agentfs_sync_state WHERE id = 1');
  return Number(rs.rows[0]?.[0] ?? 0) !== info.revision;
}

/** Highest inode, entry and tool call ids on the remote: the new shared marks after a pull. */
async function remoteMarks(remote: RemoteDb, info: RemoteInfo): Promise<{ toolMark: number; inoMark: number; dentryMark: number }> {
  const q = (t: string, c: string) => ({ sql: info.tables.has(t) ? `SELECT max(${c}) FROM ${t}` : 'SELECT 0', args: [] });
  const rs = await remote.batch([q('tool_calls', 'id'), q('fs_inode', 'ino'), q('fs_dentry', 'id')], 'read');
  const n = (i: number) => Number((rs[i]!.rows[0]?.[0] as bigint | null) ?? 0n);
  return { toolMark: n(0), inoMark: n(1), dentryMark: n(2) };
}

async function remoteRowCount(remote: RemoteDb, info: RemoteInfo): Promise<number> {
  const present = SYNCED_TABLES.filter((t) => info.tables.has(t.name));
  const rs = await remote.execute(`SELECT ${present.map((t) => `(SELECT count(*) FROM ${t.name})`).join(' + ')}`);
  return Number(rs.rows[0]?.[0] ?? 0);
}

function pageBytes(page: RemoteRow[]): number {
  let n = 0;
  for (const r of page) for (const v of r.values) n += v instanceof Uint8Array ? v.byteLength : typeof v === 'string' ? v.length : 8;
  return n;
}

/** The pull's line in the local transfer log (for `sync stats`). */
function recordTransfer(local: LocalSyncState, remoteDbId: string, revision: number, rows: number, remote: RemoteDb, conflictsResolved: number): void {
  local.transfers.record({
    kind: 'pull',
    at: Math.floor(Date.now() / 1000),
    remoteDbId,
    revision,
    rows,
    bytesSent: remote.traffic.bytesSent,
    bytesReceived: remote.traffic.bytesReceived,
    requests: remote.traffic.requests,
    conflictsResolved,
  });
}

function record(revision: number, rows: number, remote: RemoteDb, t0: number) {
  return {
    at: Math.floor(Date.now() / 1000),
    revision,
    rows,
    bytes: remote.traffic.bytesSent + remote.traffic.bytesReceived,
    requests: remote.traffic.requests,
    seconds: (Date.now() - t0) / 1000,
  };
}
