import type { Store } from '../../store/index.js';

/** What this machine remembers about its sync with a remote (kept in agentfs_meta, never synced). */
export interface SyncMemory {
  /** id the remote gave itself at its first push; a different one means a different remote */
  remoteDbId?: string;
  /** remote revision this agent last matched (after a pull, or a push onto an up-to-date remote) */
  baseRevision?: number;
  /** revisions above the base that we pushed ourselves (a later pull skips their rows) */
  ownRevisions: number[];
  /** tool call ids up to this are shared with the remote; higher local ones may be renumbered */
  toolMark: number;
  /** inode numbers and entry ids up to these are shared with the remote (same idea as toolMark) */
  inoMark: number;
  dentryMark: number;
  lastPush?: TransferRecord;
  lastPull?: TransferRecord;
  /** a push that started and did not finish, so a re-run can resume or finalize it */
  pendingPush?: PendingPush;
}

export interface TransferRecord {
  at: number;
  revision: number;
  rows: number;
  bytes: number;
  requests: number;
  seconds: number;
}

export interface PendingPush {
  pushId: string;
  /** local generation the push's snapshot covers */
  gen: number;
  /** remote revision the push was prepared against */
  expectedRevision: number;
  full: boolean;
  /** base revision at the time, to update after a late-confirmed success */
  baseWasCurrent: boolean;
  toolMax: number;
  inoMax: number;
  dentryMax: number;
}

const K = {
  remoteDbId: 'sync.remote_db_id',
  baseRevision: 'sync.base_revision',
  ownRevisions: 'sync.own_revisions',
  toolMark: 'sync.tool_mark',
  inoMark: 'sync.ino_mark',
  dentryMark: 'sync.dentry_mark',
  lastPush: 'sync.last_push',
  lastPull: 'sync.last_pull',
  pendingPush: 'sync.pending_push',
} as const;

export class SyncMemoryStore {
  constructor(private readonly store: Store) {}

  read(): SyncMemory {
    const g = (k: string) => this.store.getMeta(k);
    const json = <T>(k: string): T | undefined => {
      const v = g(k);
      if (v === undefined) return undefined;
      try {
        return JSON.parse(v) as T;
      } catch {
        return undefined;
      }
    };
    const base = g(K.baseRevision);
    return {
      remoteDbId: g(K.remoteDbId),
      baseRevision: base === undefined ? undefined : Number(base),
      ownRevisions: json<number[]>(K.ownRevisions) ?? [],
      toolMark: Number(g(K.toolMark) ?? 0),
      inoMark: Number(g(K.inoMark) ?? 0),
      dentryMark: Number(g(K.dentryMark) ?? 0),
      lastPush: json<TransferRecord>(K.lastPush),
      lastPull: json<TransferRecord>(K.lastPull),
      pendingPush: json<PendingPush>(K.pendingPush),
    };
  }

  write(m: Partial<SyncMemory>): void {
    const s = (k: string, v: string | undefined) => this.store.setMeta(k, v);
    this.store.transaction(() => {
      if ('remoteDbId' in m) s(K.remoteDbId, m.remoteDbId);
      if ('baseRevision' in m) s(K.baseRevision, m.baseRevision === undefined ? undefined : String(m.baseRevision));
      if ('ownRevisions' in m) s(K.ownRevisions, JSON.stringify(m.ownRevisions ?? []));
      if ('toolMark' in m) s(K.toolMark, String(m.toolMark ?? 0));
      if ('inoMark' in m) s(K.inoMark, String(m.inoMark ?? 0));
      if ('dentryMark' in m) s(K.dentryMark, String(m.dentryMark ?? 0));
      if ('lastPush' in m) s(K.lastPush, m.lastPush && JSON.stringify(m.lastPush));
      if ('lastPull' in m) s(K.lastPull, m.lastPull && JSON.stringify(m.lastPull));
      if ('pendingPush' in m) s(K.pendingPush, m.pendingPush && JSON.stringify(m.pendingPush));
    });
  }
}
