/** Human-readable pieces of sync output. */

const WORDS: Record<string, string> = {
  fs_inode: 'inodes',
  fs_dentry: 'directory entries',
  fs_data: 'data chunks',
  fs_symlink: 'symlinks',
  fs_whiteout: 'whiteouts',
  fs_origin: 'origins',
  kv_store: 'kv entries',
  tool_calls: 'tool calls',
  fs_config: 'config entries',
};

export function describeCounts(c: Record<string, number>): string {
  const parts = Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${n} ${WORDS[t] ?? t}`);
  return parts.length ? parts.join(', ') : 'nothing';
}

/** Unix seconds as an ISO time without milliseconds, or `never`. */
export function when(t: number | undefined): string {
  return t ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : 'never';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** `Key:   value` lines, aligned. */
export function printTable(lines: [string, string][]): void {
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${(k + ':').padEnd(w + 1)} ${v}`);
}
