import { lstatSync, readFileSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * Every regular file under base directory `baseDir`, with its lstat, as one walk finds them
 * (overlay paths, '/a/b'). Only directories on `devs` are entered (hard links cannot leave a
 * device); a directory seen again (a bind mount of a base directory inside the base) is not
 * walked twice, which would count its names as further links; unreadable directories are
 * skipped. Iterative (a deep base needs no deep stack); the caller stops the walk by leaving its
 * loop.
 */
function* baseFiles(baseDir: string, devs: ReadonlySet<number>): Generator<{ path: string; st: Stats }> {
  const dirs: string[] = ['/'];
  const seen = new Set<string>();
  const root = lstatSync(baseDir, { throwIfNoEntry: false });
  if (root) seen.add(`${root.dev}:${root.ino}`);
  // a file system mounted inside one mounted in the base: the walk does not cross the middle
  // one (not on `devs`), so it starts at the mount too
  for (const path of mountsUnder(baseDir)) {
    const st = lstatSync(join(baseDir, path), { throwIfNoEntry: false });
    if (st?.isDirectory() && devs.has(st.dev) && !seen.has(`${st.dev}:${st.ino}`)) {
      seen.add(`${st.dev}:${st.ino}`);
      dirs.push(path);
    }
  }
  while (dirs.length) {
    const dir = dirs.pop()!;
    let entries;
    try {
      entries = readdirSync(join(baseDir, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of entries) {
      if (!d.isDirectory() && !d.isFile()) continue;
      const path = dir === '/' ? `/${d.name}` : `${dir}/${d.name}`;
      const st = lstatSync(join(baseDir, path), { throwIfNoEntry: false });
      if (!st) continue;
      if (!d.isDirectory()) yield { path, st };
      else if (devs.has(st.dev) && !seen.has(`${st.dev}:${st.ino}`)) {
        seen.add(`${st.dev}:${st.ino}`);
        dirs.push(path);
      }
    }
  }
}

/** The names (baseFiles' walk) of the files whose `dev:ino` is in `keys`. */
export function* baseLinks(baseDir: string, devs: ReadonlySet<number>, keys: ReadonlySet<string>): Generator<{ path: string; st: Stats; key: string }> {
  for (const { path, st } of baseFiles(baseDir, devs)) {
    const key = `${st.dev}:${st.ino}`;
    if (keys.has(key)) yield { path, st, key };
  }
}

/** Every name of every file with more than one link on device `dev` of the base, by `dev:ino`. */
export function baseLinkIndex(baseDir: string, dev: number): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const { path, st } of baseFiles(baseDir, new Set([dev]))) {
    if (st.nlink < 2 || st.dev !== dev) continue;
    const key = `${st.dev}:${st.ino}`;
    const names = index.get(key);
    if (names) names.push(path);
    else index.set(key, [path]);
  }
  return index;
}

/** The mount points below base directory `baseDir` (overlay paths), from /proc/self/mountinfo. */
function mountsUnder(baseDir: string): string[] {
  let real: string;
  let text: string;
  try {
    real = realpathSync(baseDir);
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const prefix = real === '/' ? '/' : `${real}/`;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp.startsWith(prefix) && mp.length > prefix.length) out.push(`/${mp.slice(prefix.length)}`);
  }
  return out;
}
