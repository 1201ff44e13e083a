import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/**
 * Fresh tmpfs mounts (root only), for bases that hold another file system: two fresh ones give
 * their first files the same inode number. unmountAll() unmounts them by path, innermost first.
 */
export class TmpfsMounts {
  private readonly mounted: string[] = [];

  mount(at: string): void {
    mkdirSync(at, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'agentfs-test', at], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount tmpfs at ${at}: ${r.stderr}`);
    this.mounted.push(at);
  }

  unmountAll(): void {
    for (const at of this.mounted.reverse()) spawnSync('umount', [at]);
    this.mounted.length = 0;
  }
}
