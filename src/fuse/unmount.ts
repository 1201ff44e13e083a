/** Unmounting a FUSE mountpoint, whoever serves it (this process, another, or a dead one). */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { fusermountPath, loadBinding, type NativeBinding } from './binding.js';

/** Unmounts a FUSE mountpoint: umount2(2) as root, fusermount3 otherwise. Throws on failure. */
export async function unmountPath(mountpoint: string, lazy: boolean, native: NativeBinding = loadBinding()): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    const err = native.umount(mountpoint, lazy);
    if (err === 0) return;
    throw Object.assign(new Error(`cannot unmount ${mountpoint}: ${errnoName(err)}`), { errno: err, code: errnoName(err) });
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn(fusermountPath() ?? 'fusermount3', ['-u', ...(lazy ? ['-z'] : []), '--', mountpoint], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const busy = /busy/i.test(err);
        reject(Object.assign(new Error(`cannot unmount ${mountpoint}: ${err.trim() || `fusermount3 exited with ${code}`}`), busy ? { code: 'EBUSY' } : {}));
      }
    });
  });
}

function errnoName(n: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === n) return name;
  return `errno ${n}`;
}
