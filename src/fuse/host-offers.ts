/**
 * Hands the addon the overlay inodes that are exactly host files (FileSystem.hostFiles) as they
 * reach the kernel, so that their GETATTR, read-only OPEN, READ and RELEASE are answered from the
 * host file on the FUSE threads (native/host_files.h), and takes each back before the overlay
 * changes what it is. Only the JS thread calls in, so an offer and a take-back never cross.
 */
import type { HostFiles } from '../core/types.js';
import type { NativeBinding, SessionHandle } from './binding.js';

/** Past this many the offers start over (the addon drops them all too). */
const MAX_OFFERED = 1 << 20;

export class HostOffers {
  /** inodes the addon holds a host path for */
  private readonly offered = new Set<number>();
  private readonly batchInos: number[] = [];
  private readonly batchPaths: string[] = [];

  constructor(
    private readonly native: NativeBinding,
    private readonly handle: SessionHandle,
    private readonly files: HostFiles,
  ) {
    files.onChange((ino) => {
      if (ino === undefined) {
        if (!this.offered.size) return;
        this.offered.clear();
        this.native.hostForget(this.handle, -1);
      } else if (this.offered.delete(ino)) {
        this.native.hostForget(this.handle, ino);
      }
    });
  }

  /** `inos` went to the kernel with their attributes: the host-backed ones are offered, in one call. */
  offer(inos: readonly number[]): void {
    for (const ino of inos) {
      if (this.offered.has(ino)) continue;
      const f = this.files.hostFile(ino);
      if (!f) continue;
      if (this.offered.size >= MAX_OFFERED) {
        this.offered.clear();
        this.native.hostForget(this.handle, -1);
      }
      this.offered.add(ino);
      this.batchInos.push(ino, f.type);
      this.batchPaths.push(f.path);
    }
    if (!this.batchPaths.length) return;
    this.native.hostAdd(this.handle, Float64Array.from(this.batchInos), this.batchPaths);
    this.batchInos.length = 0;
    this.batchPaths.length = 0;
  }
}
