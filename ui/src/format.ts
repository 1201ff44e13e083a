/** Display helpers. */

export function bytes(n: number | undefined): string {
  if (n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '…';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function time(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function ago(ms: number | undefined): string {
  if (ms === undefined) return '';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function pretty(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

/** What a journal entry did, in a few words. */
export function describe(e: { op: string; path?: string; new_path?: string; bytes?: number; size?: number; mode?: number }): string {
  const p = e.path ?? '?';
  switch (e.op) {
    case 'rename':
    case 'link':
      return `${p} → ${e.new_path ?? '?'}`;
    case 'symlink':
      return `${p} → ${e.new_path ?? '?'} (target)`;
    case 'write':
      return `${p} (${bytes(e.bytes ?? 0)})`;
    case 'truncate':
      return `${p} to ${bytes(e.size ?? 0)}`;
    case 'chmod':
      return `${p} mode ${((e.mode ?? 0) & 0o7777).toString(8)}`;
    default:
      return p;
  }
}
