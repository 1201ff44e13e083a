import type { LocalSyncState, RowKey, SyncMemory } from '../core/sync-state/index.js';
import type { RemoteDb } from './remote.js';

/**
 * Ids are allocated independently on each machine (AUTOINCREMENT), so two machines that both
 * created files, entries or tool calls since the last sync may have used the same numbers for
 * different things. That is not a conflict: our colliding ones move to numbers above every number
 * either side has, before rows travel. Ids up to the shared marks (what both sides had at the last
 * sync) never move. Tool calls are append-only: all our new ones move (keeping their order) when
 * the remote has new ones too, so they merge without conflict.
 */
export interface IdCollisions {
  inos: bigint[];
  dentries: bigint[];
  /** our new tool calls, when the remote has new ones too */
  toolCalls: bigint[];
}

export function findIdCollisions(local: LocalSyncState, mem: SyncMemory, remoteKeys: RowKey[]): IdCollisions {
  const out: IdCollisions = { inos: [], dentries: [], toolCalls: [] };
  if (!local.tracker.tracking) return out;
  const remoteNew = (tbl: string, mark: number) => new Set(remoteKeys.filter((k) => k.tbl === tbl && BigInt(k.k1) > BigInt(mark)).map((k) => BigInt(k.k1)));
  const rIno = remoteNew('fs_inode', mem.inoMark);
  const rDent = remoteNew('fs_dentry', mem.dentryMark);
  const rTool = remoteNew('tool_calls', mem.toolMark);
  for (const k of local.tracker.changedKeys()) {
    const id = typeof k.k1 === 'bigint' ? k.k1 : undefined;
    if (id === undefined) continue;
    if (k.tbl === 'fs_inode' && id > BigInt(mem.inoMark) && rIno.has(id) && local.info.hasRow('fs_inode', id)) out.inos.push(id);
    else if (k.tbl === 'fs_dentry' && id > BigInt(mem.dentryMark) && rDent.has(id) && local.info.hasRow('fs_dentry', id)) out.dentries.push(id);
    else if (k.tbl === 'tool_calls' && id > BigInt(mem.toolMark) && rTool.size && local.info.hasRow('tool_calls', id)) out.toolCalls.push(id);
  }
  return out;
}

/** Units the collisions account for: not conflicts, since they are different things. */
export function collisionUnits(c: IdCollisions): Set<string> {
  return new Set([...c.inos.map((i) => `ino:${i}`), ...c.dentries.map((d) => `dent:${d}`)]);
}

/** Moves our colliding ids above the highest on either side. Returns how many ids moved. */
export async function renumberCollisions(local: LocalSyncState, remote: RemoteDb, c: IdCollisions): Promise<number> {
  if (!c.inos.length && !c.dentries.length && !c.toolCalls.length) return 0;
  const rs = await remote.batch(
    ['SELECT max(ino) FROM fs_inode', 'SELECT max(id) FROM fs_dentry', 'SELECT max(id) FROM tool_calls'].map((sql) => ({ sql, args: [] })),
    'read',
  );
  const rmax = rs.map((r) => BigInt((r.rows[0]?.[0] as bigint | null) ?? 0n));
  const above = (a: bigint, b: bigint) => (a > b ? a : b) + 1n;
  let moved = 0;
  local.transaction(() => {
    if (c.inos.length) {
      const m = local.info.renumberInodes(c.inos, above(rmax[0]!, local.info.maxIno()));
      local.tracker.forgetIds(['fs_inode', 'fs_data', 'fs_symlink', 'fs_origin'], m.keys());
      moved += m.size;
    }
    if (c.dentries.length) {
      const m = local.info.renumberDentries(c.dentries, above(rmax[1]!, local.info.maxDentryId()));
      local.tracker.forgetIds(['fs_dentry'], m.keys());
      moved += m.size;
    }
    if (c.toolCalls.length) {
      moved += local.info.renumberToolCalls(c.toolCalls, above(rmax[2]!, local.info.maxToolCallId()));
      local.tracker.dropToolCallDeletions();
    }
  });
  return moved;
}
