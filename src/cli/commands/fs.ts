/**
 * `agentfs fs <sub> ID ...`: look at and change an agent's files from the shell.
 * (`agentfs fs ID <sub> ...` is rewritten to this order by cli/argv.ts.)
 */
import type { Command } from 'commander';
import { Agent, type AgentOpenOptions } from '../../core/agent.js';
import type { PathFs } from '../../core/fs/paths.js';
import { fileType, typeLetter, typeName } from '../../core/file-type.js';
import { isoTime, nsString, statJson } from '../../core/stat-json.js';
import { isDir, isSymlink, type Attr } from '../../core/types.js';
import { AGENT_ARG, openAgentArg } from '../agent-arg.js';
import { UserError } from '../errors.js';
import { parseOptionalInt } from '../options.js';
import { quoteName } from '../quote.js';

/** Commands that only look (ls, cat, stat, tree) open read-only: a busy writer does not block them. */
const READ_ONLY = { readOnly: true };

/**
 * Bytes a copy of path adds (its files' sizes; unknown paths 0: the copy says what is wrong).
 * Writes stop 8 MiB before the disk is full (PathFs.checkRoom), so `fs rm` can still free room.
 */
function bytesUnder(p: PathFs, path: string): number {
  if (!p.exists(path)) return 0;
  const top = p.lstat(path);
  if (!isDir(top.mode)) return top.size;
  let n = 0;
  for (const e of p.walk(path)) n += isDir(e.attr.mode) ? 0 : e.attr.size;
  return n;
}

function withAgent<T>(id: string, fn: (paths: PathFs, agent: Agent) => T, options: AgentOpenOptions = {}): T {
  const agent = openAgentArg(id, options);
  try {
    return fn(agent.paths, agent);
  } finally {
    agent.close();
  }
}

async function withAgentAsync<T>(id: string, fn: (paths: PathFs) => Promise<T>, options: AgentOpenOptions = {}): Promise<T> {
  const agent = openAgentArg(id, options);
  try {
    return await fn(agent.paths);
  } finally {
    agent.close();
  }
}

/** An agent path: relative ones start at the root; an empty one stays empty (ENOENT, as in POSIX). */
function abs(path: string | undefined): string {
  if (path === undefined) return '/';
  if (path === '') return path;
  return path.startsWith('/') ? path : `/${path}`;
}

/** `-rw-r--r--` as ls prints it. */
export function modeString(mode: number): string {
  const t = fileType(mode) === 'file' ? '-' : typeLetter(mode);
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    t +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

function longLine(name: string, a: Attr, target?: string): string {
  const d = new Date(a.mtime.sec * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const when = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const size = fileType(a.mode) === 'char' || fileType(a.mode) === 'block' ? `${a.rdev >> 8}, ${a.rdev & 0xff}` : String(a.size);
  return `${modeString(a.mode)} ${String(a.nlink).padStart(3)} ${String(a.uid).padStart(5)} ${String(a.gid).padStart(5)} ${size.padStart(10)} ${when} ${quoteName(name)}${target !== undefined ? ` -> ${quoteName(target)}` : ''}`;
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

async function readStdin(): Promise<AsyncIterable<Buffer>> {
  return process.stdin as AsyncIterable<Buffer>;
}

export function registerFs(program: Command): void {
  const fs = program
    .command('fs')
    .description('Look at and change the files of an agent (ID or path to a .db file)');

  fs.command('ls')
    .description('List a directory: `f name` for files, `d name` for directories, `l name` for symlinks')
    .argument('<ID>', AGENT_ARG)
    .argument('[PATH]', 'directory or file in the agent filesystem', '/')
    .option('-l, --long', 'long form: mode, links, owner, group, size, mtime, name')
    .option('--json', 'JSON array of entries with their attributes')
    .action((id: string, path: string, opts: { long?: boolean; json?: boolean }) => {
      withAgent(id, (p) => {
        const at = abs(path);
        const a = p.lstat(at);
        let entries: { name: string; attr: Attr; target?: string }[];
        if (isDir(a.mode) || (isSymlink(a.mode) && isDir(p.stat(at).mode))) {
          entries = p.readdirPlus(at);
        } else {
          entries = [{ name: at.split('/').filter(Boolean).pop() ?? '/', attr: a }];
        }
        for (const e of entries) if (isSymlink(e.attr.mode)) e.target = p.fs.readlink(e.attr.ino);
        if (opts.json) {
          out(JSON.stringify(entries.map((e) => ({ name: e.name, ...statJson(e.attr, e.target) })), null, 2));
        } else if (opts.long) {
          for (const e of entries) out(longLine(e.name, e.attr, e.target));
        } else {
          for (const e of entries) out(`${typeLetter(e.attr.mode)} ${quoteName(e.name)}`);
        }
      }, READ_ONLY);
    });

  fs.command('cat')
    .description('Print a file')
    .argument('<ID>', AGENT_ARG)
    .argument('<PATH>', 'file in the agent filesystem')
    .action(async (id: string, path: string) => {
      await withAgentAsync(id, async (p) => {
        for (const piece of p.readPieces(abs(path))) {
          if (!process.stdout.write(piece)) await new Promise((r) => process.stdout.once('drain', r));
        }
      }, READ_ONLY);
    });

  fs.command('write')
    .description('Write CONTENT (or standard input when CONTENT is omitted or `-`) to a file, creating parent directories')
    .argument('<ID>', AGENT_ARG)
    .argument('<PATH>', 'file in the agent filesystem')
    .argument('[CONTENT]', 'text to write; `-` or nothing reads standard input')
    .option('-a, --append', 'append instead of replacing')
    .option('-m, --mode <OCTAL>', 'permission bits of a new file', '644')
    .action(async (id: string, path: string, content: string | undefined, opts: { append?: boolean; mode: string }) => {
      const mode = parseMode(opts.mode);
      const at = abs(path);
      await withAgentAsync(id, async (p) => {
        // parents are made only once the open says they are missing (a file in the way is ENOTDIR)
        const o = { mode, createParents: true };
        if (content !== undefined && content !== '-') {
          p.checkRoom('write', at, Buffer.byteLength(content));
          if (opts.append) p.appendFile(at, content, o);
          else p.writeFile(at, content, o);
          return;
        }
        await p.writeStream(at, await readStdin(), { ...o, append: opts.append });
      });
    });

  fs.command('mkdir')
    .description('Create a directory')
    .argument('<ID>', AGENT_ARG)
    .argument('<PATH>', 'directory to create')
    .option('-p, --parents', 'create missing parents; no error if it exists')
    .option('-m, --mode <OCTAL>', 'permission bits', '755')
    .action((id: string, path: string, opts: { parents?: boolean; mode: string }) => {
      const mode = parseMode(opts.mode);
      withAgent(id, (p) => {
        p.checkRoom('mkdir', abs(path), 0);
        p.mkdir(abs(path), { recursive: opts.parents, mode });
      });
    });

  fs.command('rm')
    .description('Remove files and symlinks (-r for directories, whole trees included)')
    .argument('<ID>', AGENT_ARG)
    .argument('<PATH...>', 'paths to remove')
    .option('-r, --recursive', 'remove directories and their contents')
    .option('-f, --force', 'ignore missing paths')
    .action((id: string, paths: string[], opts: { recursive?: boolean; force?: boolean }) => {
      withAgent(id, (p) => {
        for (const path of paths) {
          const at = abs(path);
          if (at !== '' && at.split('/').filter(Boolean).length === 0) throw new UserError('refusing to remove the root directory');
          p.rm(at, { recursive: opts.recursive, force: opts.force });
        }
      });
    });

  fs.command('mv')
    .description('Rename or move a file or directory (replaces an existing file at DST)')
    .argument('<ID>', AGENT_ARG)
    .argument('<SRC>', 'existing path')
    .argument('<DST>', 'new path, or an existing directory to move into')
    .option('-n, --no-clobber', 'do not replace an existing DST')
    .action((id: string, src: string, dst: string, opts: { clobber: boolean }) => {
      withAgent(id, (p) => {
        let to = abs(dst);
        // like mv(1): an existing directory as DST means "move into it"
        const target = p.exists(to) ? p.stat(to) : undefined;
        if (target && isDir(target.mode)) {
          const name = abs(src).split('/').filter(Boolean).pop();
          if (name === undefined) throw new UserError('cannot move the root directory');
          to = `${to.replace(/\/+$/, '')}/${name}`;
        }
        p.rename(abs(src), to, opts.clobber ? 0 : 1);
      });
    });

  fs.command('cp')
    .description('Copy a file (or with -r a directory tree)')
    .argument('<ID>', AGENT_ARG)
    .argument('<SRC>', 'existing path')
    .argument('<DST>', 'new path')
    .option('-r, --recursive', 'copy directories recursively')
    .action((id: string, src: string, dst: string, opts: { recursive?: boolean }) => {
      withAgent(id, (p) => {
        p.checkRoom('cp', abs(dst), bytesUnder(p, abs(src)));
        p.cp(abs(src), abs(dst), { recursive: opts.recursive });
      });
    });

  fs.command('ln')
    .description('Make a hard link (or with -s a symbolic link whose target is TARGET as given)')
    .argument('<ID>', AGENT_ARG)
    .argument('<TARGET>', 'existing path (or any text for -s)')
    .argument('<LINK>', 'new name')
    .option('-s, --symbolic', 'symbolic link')
    .action((id: string, target: string, link: string, opts: { symbolic?: boolean }) => {
      withAgent(id, (p) => {
        p.checkRoom(opts.symbolic ? 'symlink' : 'link', abs(link), Buffer.byteLength(target));
        if (opts.symbolic) p.symlink(target, abs(link));
        else p.link(abs(target), abs(link));
      });
    });

  fs.command('chmod')
    .description('Change permission bits (octal MODE)')
    .argument('<ID>', AGENT_ARG)
    .argument('<MODE>', 'octal mode, e.g. 644')
    .argument('<PATH>', 'path')
    .action((id: string, mode: string, path: string) => {
      const m = parseMode(mode);
      withAgent(id, (p) => p.chmod(abs(path), m));
    });

  fs.command('touch')
    .description('Create an empty file, or set the times of an existing one to now')
    .argument('<ID>', AGENT_ARG)
    .argument('<PATH>', 'path')
    .action((id: string, path: string) => {
      withAgent(id, (p) => {
        const at = abs(path);
        if (p.exists(at)) p.utimes(at, 'now', 'now');
        else {
          p.checkRoom('open', at, 0);
          p.close(p.open(at, 'a').ino);
        }
      });
    });

  fs.command('stat')
    .description('Show the attributes of a path (symlinks not followed)')
    .argument('<ID>', AGENT_ARG)
    .argument('<PATH>', 'path')
    .option('--json', 'JSON output')
    .action((id: string, path: string, opts: { json?: boolean }) => {
      withAgent(id, (p) => {
        const at = abs(path);
        const a = p.lstat(at);
        const target = isSymlink(a.mode) ? p.readlink(at) : undefined;
        if (opts.json) {
          out(JSON.stringify({ path: at, ...statJson(a, target) }, null, 2));
          return;
        }
        out(`  File: ${quoteName(at)}${target !== undefined ? ` -> ${quoteName(target)}` : ''}`);
        out(`  Type: ${typeName(a.mode)}`);
        out(`  Size: ${a.size}    Blocks: ${a.blocks}    IO Block: ${a.blksize}`);
        out(` Inode: ${a.ino}    Links: ${a.nlink}${a.rdev ? `    Device: ${a.rdev >> 8},${a.rdev & 0xff}` : ''}`);
        out(`Access: (0${(a.mode & 0o7777).toString(8).padStart(3, '0')}/${modeString(a.mode)})  Uid: ${a.uid}  Gid: ${a.gid}`);
        out(`Access: ${isoTime(a.atime)} (${nsString(a.atime)})`);
        out(`Modify: ${isoTime(a.mtime)} (${nsString(a.mtime)})`);
        out(`Change: ${isoTime(a.ctime)} (${nsString(a.ctime)})`);
      }, READ_ONLY);
    });

  fs.command('tree')
    .description('Show a directory tree')
    .argument('<ID>', AGENT_ARG)
    .argument('[PATH]', 'directory', '/')
    .option('-L, --level <N>', 'descend at most N levels')
    .option('--json', 'nested JSON: {name, type, size, children}')
    .action((id: string, path: string, opts: { level?: string; json?: boolean }) => {
      const maxDepth = parseOptionalInt('--level', opts.level, { min: 1, max: 1_000_000 });
      withAgent(id, (p) => {
        const at = abs(path);
        const entries = [...p.walk(at, { maxDepth })];
        if (opts.json) {
          interface Node { name: string; type: string; size: number; target?: string; children?: Node[] }
          const root: Node = { name: at, type: 'directory', size: 0, children: [] };
          const stack: Node[] = [root];
          for (const e of entries) {
            const node: Node = { name: e.name, type: typeName(e.attr.mode), size: e.attr.size };
            if (e.target !== undefined) node.target = e.target;
            if (isDir(e.attr.mode)) node.children = [];
            stack.length = e.depth;
            stack[e.depth - 1]!.children!.push(node);
            if (node.children) stack[e.depth] = node;
          }
          out(JSON.stringify(root, null, 2));
          return;
        }
        out(quoteName(at));
        // draw with ├── / └── : an entry is last when no later entry shares its parent
        let dirs = 0;
        let files = 0;
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          let prefix = '';
          for (let d = 1; d < e.depth; d++) prefix += hasSibling(entries, i, d) ? '│   ' : '    ';
          prefix += hasSibling(entries, i, e.depth) ? '├── ' : '└── ';
          out(`${prefix}${quoteName(e.name)}${e.target !== undefined ? ` -> ${quoteName(e.target)}` : ''}`);
          if (isDir(e.attr.mode)) dirs++;
          else files++;
        }
        out(`\n${dirs} director${dirs === 1 ? 'y' : 'ies'}, ${files} file${files === 1 ? '' : 's'}`);
      }, READ_ONLY);
    });
}

/** True when another entry at `depth` follows entry i before the tree leaves i's ancestor at that depth. */
function hasSibling(entries: { depth: number }[], i: number, depth: number): boolean {
  for (let j = i + 1; j < entries.length; j++) {
    const d = entries[j]!.depth;
    if (d < depth) return false;
    if (d === depth) return true;
  }
  return false;
}

function parseMode(s: string): number {
  if (!/^[0-7]{1,4}$/.test(s)) throw new UserError(`invalid mode '${s}': expected octal digits like 644`);
  return parseInt(s, 8);
}
