/**
 * The kernel's readahead for a mount, raised as root (/sys/class/bdi/<device>/read_ahead_kb).
 * The kernel caps FUSE readahead at 128 KiB whatever the filesystem asks; with 1 MiB read
 * requests sequential reads need a quarter of the round trips (about +20% here). 4 MiB rather
 * than 1: a cold sequential read then has up to four READs in flight, served side by side on the
 * loop's threads, whose page faults read the database from the disk at once (a cold 64 MiB read
 * 101 -> 86 ms, medians of four; 8 and 16 MiB did no better).
 */
import { writeFileSync } from 'node:fs';
import { agentfsMountAt } from './mounts.js';

const READAHEAD_KB = 4096;

/** Raises the readahead of the agentfs mount at mountpoint; not root (or no sysfs): unchanged. */
export function raiseReadahead(mountpoint: string): void {
  const m = agentfsMountAt(mountpoint);
  if (!m) return;
  try {
    writeFileSync(`/sys/class/bdi/${m.device}/read_ahead_kb`, String(READAHEAD_KB));
  } catch {
    /* not root, or no such sysfs entry: keep the default */
  }
}
