import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import type { FsMutation } from '../../src/core/fs/mutation.js';
import { PathFs } from '../../src/core/fs/paths.js';
import type { Caller } from '../../src/core/types.js';
import { tempDir } from './cli.js';

export const ME: Caller = { uid: 1000, gid: 1000, groups: [1000] };

export interface FsFixture {
  dir: string;
  file: string;
  store: Store;
  fs: InodeFs;
  paths: PathFs;
  events: FsMutation[];
  /** closes and reopens the database (fresh statement cache, as another process would see it) */
  reopen(): void;
  cleanup(): void;
}

/** A real on-disk database with an InodeFs over it. */
export function fsFixture(options: { chunkSize?: number } = {}): FsFixture {
  const { dir, cleanup } = tempDir('agentfs-fs-');
  const file = join(dir, 'test.db');
  const events: FsMutation[] = [];
  const fx = {
    dir,
    file,
    events,
    store: Store.open({ path: file }, { create: true, chunkSize: options.chunkSize }),
  } as FsFixture;
  const attach = () => {
    fx.fs = new InodeFs(fx.store, { observer: (m) => events.push(m) });
    fx.paths = new PathFs(fx.fs, { caller: ME });
  };
  attach();
  fx.reopen = () => {
    fx.store.close();
    fx.store = Store.open({ path: file });
    attach();
  };
  fx.cleanup = () => {
    fx.store.close();
    cleanup();
  };
  return fx;
}

export function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return undefined;
}

export async function codeAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return undefined;
}

export interface ChunkRow {
  chunk_index: number;
  len: number;
}

export function chunks(store: Store, ino: number): ChunkRow[] {
  return store.db
    .prepare('SELECT chunk_index, length(data) AS len FROM fs_data WHERE ino = ? ORDER BY chunk_index')
    .all(ino)
    .map((r) => ({ chunk_index: (r as ChunkRow).chunk_index, len: (r as ChunkRow).len }));
}

export function inodeRow(store: Store, ino: number): Record<string, number> | undefined {
  return store.db.prepare('SELECT * FROM fs_inode WHERE ino = ?').get(ino) as Record<string, number> | undefined;
}
