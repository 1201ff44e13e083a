/**
 * Host paths beyond PATH_MAX. A path legal in an overlay, under a base whose own path is long,
 * can exceed what one syscall takes (4096 bytes with the NUL); such paths are walked from a
 * directory descriptor in steps, each no longer than HOST_PATH_LIMIT (which leaves room for a
 * `/proc/self/fd/N/` prefix). Used by the overlay's base reader and by commit's base writer.
 */
export const HOST_PATH_LIMIT = 4000;

export function tooLongForOneCall(host: string): boolean {
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only near the limit is it worth counting
  return host.length * 3 >= HOST_PATH_LIMIT && Buffer.byteLength(host) >= HOST_PATH_LIMIT;
}

/** `path` (relative to a directory) as steps of joined components, each short enough for one call. */
export function pathSteps(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const steps: string[] = [];
  for (let i = 0; i < parts.length; ) {
    let rel = parts[i++]!;
    let bytes = Buffer.byteLength(rel);
    while (i < parts.length && bytes + 1 + Buffer.byteLength(parts[i]!) < HOST_PATH_LIMIT - 64) {
      bytes += 1 + Buffer.byteLength(parts[i]!);
      rel += '/' + parts[i++];
    }
    steps.push(rel);
  }
  return steps;
}
