/**
 * The small C programs beside the addon (native/sandbox: the namespace launcher; native/tether:
 * a command that dies with its recorder; native/walbatch: an SQLite extension). One way to find
 * each: a local build not older than its source (a clone after scripts/setup.sh), else the
 * package's prebuild next to the addon's (scripts/prebuild.sh; in a clone only if not older than
 * the source), else a build with the system C compiler on first use (a clone whose source
 * changed, a platform with no prebuild), unless the tool says not to.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** An installed package (npm gives every file the install time, so mtimes say nothing there). */
const INSTALLED = ROOT.split(sep).includes('node_modules');

export interface NativeTool {
  /** the executable's file name, e.g. agentfs-sandbox */
  name: string;
  /** its C source, relative to native/ */
  source: string;
  /** not built on first use: a tool whose absence costs only speed, on every process's path */
  noCompile?: boolean;
}

export type Located = { path: string } | { path: null; why: string };

const found = new Map<string, Located>();

export function locateNativeTool(tool: NativeTool): Located {
  const known = found.get(tool.name);
  if (known?.path) return known;
  const source = join(ROOT, 'native', tool.source);
  const local = join(dirname(source), 'build', tool.name);
  const prebuilt = join(ROOT, 'native', 'prebuilds', `${process.platform}-${process.arch}`, tool.name);
  const sourceTime = existsSync(source) ? statSync(source).mtimeMs : 0;
  let result: Located;
  if (existsSync(local) && statSync(local).mtimeMs >= sourceTime) result = { path: local };
  else if (existsSync(prebuilt) && (INSTALLED || statSync(prebuilt).mtimeMs >= sourceTime)) result = { path: prebuilt };
  else if (!sourceTime || tool.noCompile) result = { path: null, why: `${tool.name} is missing (${prebuilt}); run \`npm run setup\`` };
  else result = compile(source, local, tool.name);
  found.set(tool.name, result);
  return result;
}

function compile(source: string, output: string, name: string): Located {
  try {
    mkdirSync(dirname(output), { recursive: true });
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', output, source], { encoding: 'utf8' });
    if (r.status === 0) return { path: output };
    return { path: null, why: `cannot build ${name}: ${(r.stderr || r.error?.message || `cc exit ${r.status}`).trim()}` };
  } catch (e) {
    return { path: null, why: `cannot build ${name}: ${(e as Error).message}` };
  }
}
