import { keyId, type LocalInfo, type RowKey } from '../core/sync-state/index.js';
import { PATH_OF_INO_SQL } from '../core/sync-state/index.js';
import type { RemoteDb } from './remote.js';
import { remoteRowsByKey } from './remote-rows.js';
import { isDir } from '../core/types.js';

/**
 * Conflicts are decided per unit, not per row: a file (its inode, data chunks, symlink target and
 * origin), a directory entry (by id, and by parent+name so two different entries for one name
 * collide), a whiteout path, a kv key, a config key. If both sides changed rows of one unit since
 * the last sync, the unit conflicts, and resolving it moves every row of that unit either side
 * changed from the winner, so the file never ends up half ours and half theirs.
 * Tool calls are append-only and never conflict.
 */
export interface Conflicts {
  units: Set<string>;
  /** every changed key (either side) that belongs to a conflicting unit */
  keys: RowKey[];
  /** what conflicts, for people: paths, `kv:KEY`, `config:KEY` */
  names: string[];
  /** directories both sides changed only by adding/removing entries: merged, not conflicts */
  dirMerges: bigint[];
}

type Dentry = { parent: bigint; name: string };

function unitsOf(k: RowKey, dentry: (id: bigint) => Dentry | undefined): string[] {
  switch (k.tbl) {
    case 'fs_inode':
    case 'fs_data':
    case 'fs_symlink':
      return [`ino:${k.k1}`];
    case 'fs_origin':
      return [`ino:${k.k1}`];
    case 'fs_dentry': {
      const d = dentry(BigInt(k.k1));
      return d ? [`dent:${k.k1}`, `name:${d.parent}/${d.name}`] : [`dent:${k.k1}`];
    }
    case 'fs_whiteout':
      return [`wh:${k.k1}`];
    case 'kv_store':
      return [`kv:${k.k1}`];
    case 'fs_config':
      return [`cfg:${k.k1}`];
    default:
      return [];
  }
}

export async function findConflicts(
  local: LocalInfo,
  remote: RemoteDb,
  localKeys: RowKey[],
  remoteKeys: RowKey[],
  remoteDentryCols: string[],
  /** units that are not conflicts (ids both sides allocated for different things) */
  ignore: Set<string> = new Set(),
): Promise<Conflicts> {
  // Current dentry rows of the remote's changed entries (few), to compare names.
  const remoteDentries = new Map<string, Dentry>();
  const changedDentries = remoteKeys.filter((k) => k.tbl === 'fs_dentry');
  if (changedDentries.length && remoteDentryCols.includes('parent_ino')) {
    const rows = await remoteRowsByKey(remote, 'fs_dentry', ['parent_ino', 'name'], changedDentries);
    for (const r of rows) if (r.present) remoteDentries.set(String(r.key.k1), { parent: BigInt(r.values[0] as bigint), name: String(r.values[1]) });
  }
  const localUnits = new Map<string, RowKey[]>();
  for (const k of localKeys) {
    for (const u of unitsOf(k, (id) => local.dentry(id))) push(localUnits, u, k);
  }
  const remoteUnits = new Map<string, RowKey[]>();
  for (const k of remoteKeys) {
    for (const u of unitsOf(k, (id) => remoteDentries.get(String(id)))) push(remoteUnits, u, k);
  }
  const units = new Set([...localUnits.keys()].filter((u) => remoteUnits.has(u) && !ignore.has(u)));
  // Entries created or removed in one directory on both sides touch only its inode row (times,
  // nlink) on each side: that merges.
  const dirMerges: bigint[] = [];
  const candidates = [...units].filter(
    (u) => u.startsWith('ino:') && localUnits.get(u)!.every((k) => k.tbl === 'fs_inode') && remoteUnits.get(u)!.every((k) => k.tbl === 'fs_inode'),
  );
  if (candidates.length) {
    const inos = candidates.map((u) => BigInt(u.slice(4)));
    const rows = await remoteRowsByKey(remote, 'fs_inode', ['mode'], inos.map((i) => ({ tbl: 'fs_inode', k1: i, k2: 0n })));
    const remoteDir = new Set(rows.filter((r) => r.present && isDir(Number(r.values[0]))).map((r) => BigInt(r.key.k1)));
    for (const ino of inos) {
      const mode = local.modeOf(ino);
      if (mode !== undefined && isDir(mode) && remoteDir.has(ino)) {
        dirMerges.push(ino);
        units.delete(`ino:${ino}`);
      }
    }
  }
  const keys = new Map<string, RowKey>();
  for (const u of units) for (const k of [...localUnits.get(u)!, ...remoteUnits.get(u)!]) keys.set(keyId(k), k);
  const names = units.size ? await nameUnits(units, local, remote, remoteDentries) : [];
  return { units, keys: [...keys.values()], names, dirMerges };
}

function push(m: Map<string, RowKey[]>, u: string, k: RowKey): void {
  const list = m.get(u);
  if (list) list.push(k);
  else m.set(u, [k]);
}

async function nameUnits(units: Set<string>, local: LocalInfo, remote: RemoteDb, remoteDentries: Map<string, Dentry>): Promise<string[]> {
  const remotePath = async (ino: bigint): Promise<string | undefined> => {
    if (ino === 1n) return '/';
    const rs = await remote.execute(PATH_OF_INO_SQL, [ino]).catch(() => undefined);
    const p = rs?.rows[0]?.[0];
    return p ? String(p) : undefined;
  };
  const pathOf = async (ino: bigint) => local.pathOfIno(ino) ?? (await remotePath(ino));
  const join = (dir: string | undefined, name: string) => (dir === undefined ? `.../${name}` : dir === '/' ? `/${name}` : `${dir}/${name}`);
  const names = new Set<string>();
  for (const u of units) {
    const i = u.indexOf(':');
    const kind = u.slice(0, i);
    const rest = u.slice(i + 1);
    if (kind === 'ino') names.add((await pathOf(BigInt(rest))) ?? `inode ${rest}`);
    else if (kind === 'name') {
      const slash = rest.indexOf('/');
      names.add(join(await pathOf(BigInt(rest.slice(0, slash))), rest.slice(slash + 1)));
    } else if (kind === 'dent') {
      const d = local.dentry(BigInt(rest)) ?? remoteDentries.get(rest);
      names.add(d ? join(await pathOf(d.parent), d.name) : `directory entry ${rest}`);
    } else if (kind === 'wh') names.add(rest);
    else if (kind === 'kv') names.add(`kv:${rest}`);
    else if (kind === 'cfg') names.add(`config:${rest}`);
  }
  return [...names].sort();
}

