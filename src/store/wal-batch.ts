/**
 * WAL appends gathered into few writes: native/walbatch/wal_batch.c, an SQLite extension loaded
 * once into libsql, registers a VFS that the store's writable connections open their file with
 * (file:PATH?vfs=agentfs-walbatch; no other connection of the process changes).
 * SQLite writes each WAL frame as two pwrite calls, ~2.3 us each here whatever their size; a
 * 64 MiB write through a mount is 18,700 frames. The extension holds a connection's contiguous
 * appends (up to 124 KiB) and writes them out before anything else can see or need them (see
 * its header). Only speed depends on it: without the extension (a platform with no prebuild,
 * AGENTFS_WAL_BATCH=0) SQLite writes as it always did.
 */
import Database from 'libsql';
import { locateNativeTool } from '../platform/native-tool.js';

const VFS = 'agentfs-walbatch';
let loaded: boolean | undefined;

/** The VFS a writable connection should open its file with (loaded once per process), if any. */
export function walBatchVfs(): string | undefined {
  return enableWalBatching() ? VFS : undefined;
}

/** Loads the extension once per process; false when it cannot be (then SQLite writes as ever). */
export function enableWalBatching(): boolean {
  if (loaded !== undefined) return loaded;
  loaded = false;
  if (process.env.AGENTFS_WAL_BATCH === '0') return loaded;
  // not built on first use: a compiler run would cost every command of a clone whose source changed
  const tool = locateNativeTool({ name: 'agentfs-walbatch.so', source: 'walbatch/wal_batch.c', noCompile: true });
  if (!tool.path) return loaded;
  let db: InstanceType<typeof Database> | undefined;
  try {
    db = new Database(':memory:');
    db.loadExtension(tool.path);
    loaded = true;
  } catch {
    // another SQLite than the extension was built for, or no extension loading: as before
  } finally {
    db?.close();
  }
  return loaded;
}
