import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * The names under base directory `baseDir` of the files whose `dev:ino` is in `keys`, as one walk
 * finds them (overlay paths, '/a/b'). Only directories on `devs` are entered (hard links cannot
 * leave a device); a directory seen again (a bind mount of a base directory inside the base) is
 * not walked twice, which would count its names as further links; unreadable directories are
 * skipped. Iterative (a deep base needs no deep stack); the caller stops the walk by returning
 * from its loop.
 */
export function* baseLinks(baseDir: string, devs: ReadonlySet<number>, keys: ReadonlySet<string>): Generator<{ path: string; st: Stats; key: string }> {
  const dirs: string[] = ['/'];
  const seen = new Set<string>();
  const root = lstatSync(baseDir, { throwIfNoEntry: false });
  if (root) seen.add(`${root.dev}:${root.ino}`);
  while (dirs.length) {
    const dir = dirs.pop()!;
    let entries;
    try {
      entries = readdirSync(join(baseDir, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of entries) {
      const path = dir === '/' ? `/${d.name}` : `${dir}/${d.name}`;
      if (d.isDirectory()) {
        const st = lstatSync(join(baseDir, path), { throwIfNoEntry: false });
        if (st && devs.has(st.dev) && !seen.has(`${st.dev}:${st.ino}`)) {
          seen.add(`${st.dev}:${st.ino}`);
          dirs.push(path);
        }
        continue;
      }
      if (!d.isFile()) continue;
      const st = lstatSync(join(baseDir, path), { throwIfNoEntry: false });
      const key = st ? `${st.dev}:${st.ino}` : '';
      if (st && keys.has(key)) yield { path, st, key };
    }
  }
}
