/**
 * Room a database must keep on its file system. Deleting needs room too: the WAL takes the freed
 * pages first (removing a 60 MB file writes about 4 MB of it), so writes that would leave less
 * than the reserve free are refused with ENOSPC before SQLite runs out, and `rm` still works on
 * a full disk. The mount's group commit and the CLI's writes (PathFs.checkRoom) share it.
 */

/** Free space a write may not eat into. */
export const DELETE_RESERVE = 8 << 20;
/** A stored 4 KiB chunk costs about two pages in the WAL and two in the database at checkpoint. */
export const SPACE_PER_BYTE = 3;

/** Whether writing `incoming` bytes of data would eat into the reserve, `free` bytes being free. */
export function eatsReserve(free: number, incoming: number): boolean {
  return incoming > 0 && free - incoming * SPACE_PER_BYTE < DELETE_RESERVE;
}

/** What an ENOSPC for the reserve says. */
export const RESERVE_DETAIL = `no space left on device (writing on would leave less than the ${DELETE_RESERVE >> 20} MiB kept free to remove files)`;
