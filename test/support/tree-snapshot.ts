import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Every entry below dir with type, mode, owner, size, mtime (ns) and content hash: for "unchanged" checks. */
export function snapshotTree(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const abs = rel ? join(dir, rel) : dir;
    const st = lstatSync(abs, { bigint: true });
    let content = '';
    if (st.isFile()) content = createHash('sha256').update(readFileSync(abs)).digest('hex');
    else if (st.isSymbolicLink()) content = `-> ${readlinkSync(abs)}`;
    out[rel || '.'] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '-' : st.size} ${st.mtimeNs} ${content}`;
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) {
        const child = rel ? `${rel}/${name}` : name;
        if (!skip(child)) walk(child);
      }
    }
  };
  walk('');
  return out;
}
