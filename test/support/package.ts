/**
 * Test support for the npm package: pack the project as a clean clone would (a copy of the
 * tracked files, `npm pack` running `prepack`), and a PATH with no compiler, make or python,
 * the machine the package is meant for.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ROOT } from './cli.js';

/** Tools a user's shell would have; deliberately no cc, c++, gcc, make or python3. */
const TOOLS = ['node', 'npm', 'npx', 'sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'echo', 'grep', 'sed', 'tr', 'uname', 'mount', 'unshare'];
export const BUILD_TOOLS = ['cc', 'c++', 'gcc', 'g++', 'make', 'python3', 'python', 'node-gyp'];

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, tool);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** A directory of symlinks to the everyday tools only, to be the whole PATH. */
export function toolsOnlyPath(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const tool of TOOLS) {
    const p = which(tool);
    if (p) symlinkSync(p, join(dir, tool));
  }
  return dir;
}

/**
 * Copies the files a clone has (tracked and new, not ignored: no dist/, no builds) with their
 * times, shares node_modules, and packs there: `npm pack` runs `prepack`, which builds all
 * the package ships. Returns the tarball's path.
 */
export function packCleanClone(work: string): string {
  const clone = join(work, 'clone');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    cpSync(join(ROOT, f), join(clone, f), { preserveTimestamps: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
  const out = join(work, 'pack');
  mkdirSync(out);
  execFileSync('npm', ['pack', '--pack-destination', out, '--loglevel=error'], { cwd: clone, stdio: 'pipe', timeout: 600_000 });
  const tgz = readdirSync(out).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack made no tarball');
  return join(out, tgz);
}
