/**
 * Hands the addon the overlay inodes that are exactly host files (FileSystem.hostFiles) as they
 * reach the kernel, so that their GETATTR, read-only OPEN, READ and RELEASE are answered from the
 * host file on the FUSE threads (native/host_files.h), and takes each back before the overlay
 * changes what it is. Regular files living in the delta are handed over too, for GETATTR. Only the JS thread calls in, so an offer and a take-back never cross.
 * Listings offer theirs through replyDir (`listing`): the names are converted there anyway.
 */
import type { HostFiles, Timespec } from '../core/types.js';
import type { NativeBinding, SessionHandle } from './binding.js';

const OFFER = new Float64Array(3);

export class HostOffers {
  constructor(
    private readonly native: NativeBinding,
    private readonly handle: SessionHandle,
    private readonly files: HostFiles,
  ) {
    // every change is passed on (they are rare: copy-ups, moves, removals); a file copied up is
    // offered as the delta's at once: its next GETATTR (after the write that copied it up, the
    // kernel asks again) is answered natively once that write is committed
    files.onChange((ino) => {
      // a directory copied up keeps its listing's key: the addon goes on opening it (dirKey)
      const deltaDir = ino === undefined ? -1 : this.deltaDir(ino);
      this.native.hostForget(this.handle, ino ?? -1, deltaDir);
      if (ino === undefined) return;
      if (deltaDir >= 0) this.onCopiedDir?.(ino);
      if (this.deltas) this.offerDelta(ino);
      this.copyNumber(ino);
    });
    files.onCopyNumber((ino) => this.copyNumber(ino));
    for (const ino of files.copyNumbers()) {
      this.copies.add(ino);
      this.native.hostCopyNumber(this.handle, ino, true);
    }
    files.onUnlistable((ino, hostDir) => this.native.hostUnlistable(this.handle, ino, hostDir));
    // the directories an earlier run removed names from, before the addon lists any
    files.nameUnlistable();
    this.listable = files.listable();
    this.native.hostListable(this.handle, this.listable);
    files.onListable((now) => {
      if (now !== this.listable && !this.held) this.native.hostListable(this.handle, (this.listable = now));
    });
  }

  private listable: boolean;
  private held = false;
  /** a host directory is now the delta's (copied up): its listing key carries over (dirs.ts carriedKey) */
  onCopiedDir: ((ino: number) => void) | undefined;

  /** Whether the listing stamp of `ino` may be a settled one (HostFiles.settledListing, dirs.ts listingStamp). */
  settledListing(ino: number): boolean {
    return this.files.settledListing(ino);
  }
  /** the numbers told to the addon as copies' (hostCopyNumber) */
  private readonly copies = new Set<number>();

  /**
   * Stops the addon's listings until `release` and returns once those in flight queued their
   * LISTED events: what they handed to the kernel is then known here (the change watcher takes
   * those names back after another process's change).
   */
  hold(): void {
    this.held = true;
    this.native.hostListable(this.handle, false);
  }

  release(): void {
    this.held = false;
    this.listable = this.files.listable();
    this.native.hostListable(this.handle, this.listable);
  }

  /** A copy's number: the addon lists no host entry of that inode number (JavaScript numbers it). */
  private copyNumber(ino: number): void {
    const copy = this.files.copyNumber(ino);
    if (copy === this.copies.has(ino)) return;
    if (copy) this.copies.add(ino);
    else this.copies.delete(ino);
    this.native.hostCopyNumber(this.handle, ino, copy);
  }

  /** The addon listed `name` in host directory `dir` (a LISTED event): the filesystem records it. */
  listed(dir: number, name: string, ino: number, mode: number): void {
    this.files.listed(dir, name, ino, mode);
  }

  /** `ino` went to the kernel with its attributes (LOOKUP, GETATTR). */
  offer(ino: number): void {
    const f = this.files.hostFile(ino);
    if (f) {
      // one record for every offer, copied by the addon (an ArrayBuffer a request costs: attr.ts)
      OFFER[0] = ino;
      OFFER[1] = f.type;
      OFFER[2] = f.parent;
      this.native.hostAdd(this.handle, OFFER, [f.path]);
    } else if (this.deltas) this.offerDelta(ino);
  }

  /**
   * GETATTR of the delta's regular files is answered by the addon too (hostFiles.delta, opened by
   * the server): from the delta's database while no write transaction is open here.
   */
  deltas = false;

  private offerDelta(ino: number): void {
    const d = this.files.deltaFile(ino);
    if (d !== undefined) this.native.hostDelta(this.handle, ino, d);
  }

  /** The delta directory `ino` lives as, when the addon reads the delta (-1: none). */
  private deltaDir(ino: number): number {
    return this.deltas ? (this.files.deltaDir(ino) ?? -1) : -1;
  }

  /**
   * JavaScript opened directory `ino` under this listing key (handlers/dirs.ts opendir). The
   * addon opens a host directory, or one living in the delta (its row's mtime), while the key
   * holds (native/host_files.h open_delta_dir), so the kernel keeps the listing JavaScript gave.
   */
  dirKey(ino: number, mtime: Timespec, epoch: number): void {
    this.native.hostDirKey(this.handle, ino, mtime.sec, mtime.nsec, epoch, this.deltaDir(ino));
  }

  /**
   * For a READDIRPLUS reply of directory `dir` whose entries from index `from` on are
   * `inos`: the host directory and, per entry, whether it is exactly the host file of its name
   * there (replyDir registers those it sends); undefined when none can be.
   */
  listing(dir: number, from: number, inos: readonly number[]): { dir: string; flags: Uint8Array } | undefined {
    const l = this.files.listing(dir);
    if (!l) return undefined;
    const flags = new Uint8Array(from + inos.length);
    inos.forEach((ino, i) => (flags[from + i] = l.has(ino) ? 1 : 0));
    return { dir: l.dir, flags };
  }
}
