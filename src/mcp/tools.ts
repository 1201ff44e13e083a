/**
 * The tools `agentfs serve mcp` offers, named and shaped as in the AgentFS CLI reference
 * (read_file, write_file, readdir, mkdir, remove, rename, stat, access, kv_get, kv_set,
 * kv_delete, kv_list). Each tool is a zod input schema, a zod output schema (the structured
 * result clients receive) and a synchronous body over the agent's PathFs and KvStore. Bodies
 * throw FsError/KvError; the server turns those into MCP tool errors.
 */
import { z } from 'zod';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { Agent } from '../core/agent.js';
import { FsError, isFsError } from '../core/errors.js';
import {
  F_OK, R_OK, W_OK, X_OK, isDir,
  type Attr,
} from '../core/types.js';
import { TYPE_NAMES, fileType, typeName } from '../core/file-type.js';
import { statJson } from '../core/stat-json.js';
import { agentPath } from './paths.js';
import { AgentfsError } from '../errors.js';

export interface McpTool<I extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  run(agent: Agent, args: z.infer<z.ZodObject<I>>): z.infer<z.ZodObject<O>>;
}

/** Keeps each tool's body typed by its own schemas while the list holds them all. */
function tool<I extends z.ZodRawShape, O extends z.ZodRawShape>(t: McpTool<I, O>): McpTool {
  return t as unknown as McpTool;
}

// ---- shared schema pieces ----------------------------------------------------------------

const path = (what: string) => z.string().min(1, 'path must not be empty').describe(what);
const key = (what: string) => z.string().min(1, 'key must not be empty').describe(what);
const encoding = z.enum(['utf8', 'base64']);

const typeSchema = z.enum(TYPE_NAMES);

/** `agentfs fs stat --json`'s object (one shape everywhere), plus the fields MCP stat always had. */
const statShape = {
  path: z.string(),
  ino: z.number().int(),
  type: typeSchema,
  mode: z.string().describe('permission bits in octal, e.g. 0644'),
  nlink: z.number().int(),
  uid: z.number().int(),
  gid: z.number().int(),
  size: z.number().int(),
  blocks: z.number().int().describe('512-byte blocks stored'),
  rdev: z.number().int(),
  atime: z.string().describe('ISO 8601'),
  mtime: z.string().describe('ISO 8601'),
  ctime: z.string().describe('ISO 8601'),
  atime_ns: z.string().describe('exact seconds.nanoseconds'),
  mtime_ns: z.string().describe('exact seconds.nanoseconds'),
  ctime_ns: z.string().describe('exact seconds.nanoseconds'),
  target: z.string().optional().describe("a symlink's target, as stored"),
  permissions: z.string().describe('permission bits in octal, four digits, e.g. 0644'),
  atime_nsec: z.number().int(),
  mtime_nsec: z.number().int(),
  ctime_nsec: z.number().int(),
  is_file: z.boolean(),
  is_directory: z.boolean(),
  is_symlink: z.boolean(),
};

function statOf(p: string, a: Attr, target?: string): z.infer<z.ZodObject<typeof statShape>> {
  const t = fileType(a.mode);
  return {
    path: p,
    ...statJson(a, target),
    permissions: (a.mode & 0o7777).toString(8).padStart(4, '0'),
    atime_nsec: a.atime.nsec,
    mtime_nsec: a.mtime.nsec,
    ctime_nsec: a.ctime.nsec,
    is_file: t === 'file',
    is_directory: t === 'dir',
    is_symlink: t === 'symlink',
  };
}

/** The largest file read_file returns: as much as write_file takes in one message (~48 MiB). */
const MAX_READ_BYTES = 48 * 1024 * 1024;

/** Strict base64 (what Buffer.from would otherwise silently skip over is refused). */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeContent(content: string, enc: 'utf8' | 'base64', p: string): Buffer {
  if (enc === 'utf8') return Buffer.from(content, 'utf8');
  const compact = content.replace(/\s+/g, '');
  if (!BASE64_RE.test(compact)) throw new FsError('EINVAL', 'write_file', p, 'content is not valid base64');
  return Buffer.from(compact, 'base64');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodeContent(data: Buffer, enc: 'utf8' | 'base64', p: string): string {
  if (enc === 'base64') return data.toString('base64');
  try {
    return utf8.decode(data);
  } catch {
    throw new FsError('EINVAL', 'read_file', p, 'file is not valid UTF-8 (read it with encoding "base64")');
  }
}

/** access() mode letters to the R_OK/W_OK/X_OK mask; 'F' (or none) asks for existence only. */
function accessMask(mode: string): number {
  let mask = F_OK;
  for (const c of mode) {
    if (c === 'r') mask |= R_OK;
    else if (c === 'w') mask |= W_OK;
    else if (c === 'x') mask |= X_OK;
  }
  return mask;
}

// ---- the tools ---------------------------------------------------------------------------

const READ_ONLY: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
const CHANGES: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const DESTROYS: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false };

export const MCP_TOOLS: readonly McpTool[] = [
  tool({
    name: 'read_file',
    title: 'Read a file',
    description: "Read a file of the agent's filesystem (symlinks followed). Text is returned as UTF-8; use encoding \"base64\" for binary files.",
    input: {
      path: path('absolute path in the agent filesystem (relative paths start at /)'),
      encoding: encoding.optional().describe('utf8 (default) or base64'),
    },
    output: { path: z.string(), encoding, size: z.number().int(), content: z.string() },
    annotations: READ_ONLY,
    run(agent, args) {
      const p = agentPath(args.path, 'read_file');
      const enc = args.encoding ?? 'utf8';
      // content must fit one message: refused before reading (a sparse file can be terabytes)
      const size = agent.paths.stat(p).size;
      if (size > MAX_READ_BYTES) throw new FsError('EFBIG', 'read_file', p, `file of ${size} bytes is larger than read_file returns (${MAX_READ_BYTES} bytes)`);
      const data = agent.paths.readFile(p);
      return { path: p, encoding: enc, size: data.length, content: encodeContent(data, enc, p) };
    },
  }),
  tool({
    name: 'write_file',
    title: 'Write a file',
    description: 'Create or replace a file with the given content (UTF-8 text, or base64 with encoding "base64"). create_dirs makes missing parent directories.',
    input: {
      path: path('file to write'),
      content: z.string().describe('the new content of the file'),
      encoding: encoding.optional().describe('encoding of content: utf8 (default) or base64'),
      create_dirs: z.boolean().optional().describe('create missing parent directories (default false)'),
    },
    output: { path: z.string(), bytes: z.number().int(), ino: z.number().int() },
    annotations: { ...CHANGES, destructiveHint: true },
    run(agent, args) {
      const p = agentPath(args.path, 'write_file');
      const data = decodeContent(args.content, args.encoding ?? 'utf8', p);
      const attr = agent.paths.writeFile(p, data, { createParents: args.create_dirs ?? false });
      return { path: p, bytes: data.length, ino: attr.ino };
    },
  }),
  tool({
    name: 'readdir',
    title: 'List a directory',
    description: 'List the entries of a directory (sorted by name, without . and ..), with their type, inode and size.',
    input: { path: path('directory to list').optional().describe('directory to list (default /)') },
    output: {
      path: z.string(),
      entries: z.array(z.object({ name: z.string(), type: typeSchema, ino: z.number().int(), size: z.number().int() })),
    },
    annotations: READ_ONLY,
    run(agent, args) {
      const p = agentPath(args.path ?? '/', 'readdir');
      const entries = agent.paths
        .readdirPlus(p)
        .map((e) => ({ name: e.name, type: typeName(e.attr.mode), ino: e.attr.ino, size: e.attr.size }));
      return { path: p, entries };
    },
  }),
  tool({
    name: 'mkdir',
    title: 'Create a directory',
    description: 'Create a directory. With recursive, missing parents are created too and an existing directory is not an error.',
    input: {
      path: path('directory to create'),
      recursive: z.boolean().optional().describe('like mkdir -p (default false)'),
    },
    output: { path: z.string(), ino: z.number().int() },
    annotations: CHANGES,
    run(agent, args) {
      const p = agentPath(args.path, 'mkdir');
      const attr = agent.paths.mkdir(p, { recursive: args.recursive ?? false });
      return { path: p, ino: attr.ino };
    },
  }),
  tool({
    name: 'remove',
    title: 'Remove a file or directory',
    description: 'Remove a file, symlink or empty directory. With recursive, a directory is removed with everything in it.',
    input: {
      path: path('file or directory to remove'),
      recursive: z.boolean().optional().describe('remove a non-empty directory and its contents (default false)'),
    },
    output: { path: z.string(), type: typeSchema },
    annotations: DESTROYS,
    run(agent, args) {
      const p = agentPath(args.path, 'remove');
      if (p === '/') throw new FsError('EBUSY', 'remove', p, 'the root directory cannot be removed');
      const attr = agent.paths.lstat(p);
      const type = typeName(attr.mode);
      if (!isDir(attr.mode)) agent.paths.unlink(p);
      else if (args.recursive) agent.paths.rm(p, { recursive: true });
      else agent.paths.rmdir(p);
      return { path: p, type };
    },
  }),
  tool({
    name: 'rename',
    title: 'Rename or move',
    description: 'Move or rename a file or directory (an existing destination file, or empty directory, is replaced).',
    input: { from: path('source path'), to: path('destination path') },
    output: { from: z.string(), to: z.string() },
    annotations: DESTROYS,
    run(agent, args) {
      const from = agentPath(args.from, 'rename');
      const to = agentPath(args.to, 'rename');
      agent.paths.rename(from, to);
      return { from, to };
    },
  }),
  tool({
    name: 'stat',
    title: 'File metadata',
    description: 'Metadata of a path (a symlink itself is described, not its target): type, mode, size, inode, links, owner and times.',
    input: { path: path('path to describe') },
    output: statShape,
    annotations: READ_ONLY,
    run(agent, args) {
      const p = agentPath(args.path, 'stat');
      const a = agent.paths.lstat(p);
      return statOf(p, a, fileType(a.mode) === 'symlink' ? agent.paths.readlink(p) : undefined);
    },
  }),
  tool({
    name: 'access',
    title: 'Test a path',
    description: 'Whether a path exists and, with mode (letters r, w, x), whether this server may read/write/execute it. A missing path is not an error.',
    input: {
      path: path('path to test'),
      mode: z
        .string()
        .regex(/^(F|[rwx]{1,3})$/, 'mode must be F or a combination of r, w and x')
        .optional()
        .describe('F (exists, default) or letters r, w, x'),
    },
    output: { path: z.string(), exists: z.boolean(), allowed: z.boolean() },
    annotations: READ_ONLY,
    run(agent, args) {
      const p = agentPath(args.path, 'access');
      const exists = agent.paths.exists(p);
      if (!exists) return { path: p, exists, allowed: false };
      try {
        agent.paths.access(p, accessMask(args.mode ?? 'F'));
        return { path: p, exists, allowed: true };
      } catch (e) {
        if (isFsError(e, 'EACCES')) return { path: p, exists, allowed: false };
        throw e;
      }
    },
  }),
  tool({
    name: 'kv_get',
    title: 'Read a kv value',
    description: "Read a value from the agent's key-value store (found is false when the key is absent).",
    input: { key: key('key to read') },
    output: { key: z.string(), found: z.boolean(), value: z.unknown().describe('the JSON value, null when absent') },
    annotations: READ_ONLY,
    run(agent, args) {
      const value = agent.kv.get(args.key);
      return { key: args.key, found: value !== undefined, value: value === undefined ? null : value };
    },
  }),
  tool({
    name: 'kv_set',
    title: 'Store a kv value',
    description: "Store any JSON value under a key in the agent's key-value store (replacing what was there).",
    input: {
      key: key('key to set'),
      value: z.unknown().refine((v) => v !== undefined, 'value is required').describe('any JSON value'),
    },
    output: { key: z.string() },
    annotations: CHANGES,
    run(agent, args) {
      agent.kv.set(args.key, args.value);
      return { key: args.key };
    },
  }),
  tool({
    name: 'kv_delete',
    title: 'Delete a kv key',
    description: "Delete a key from the agent's key-value store (deleted is false when it was absent).",
    input: { key: key('key to delete') },
    output: { key: z.string(), deleted: z.boolean() },
    annotations: { ...DESTROYS, idempotentHint: true },
    run(agent, args) {
      return { key: args.key, deleted: agent.kv.delete(args.key) };
    },
  }),
  tool({
    name: 'kv_list',
    title: 'List kv keys',
    description: "List the keys of the agent's key-value store, in order, optionally only those starting with prefix.",
    input: { prefix: z.string().optional().describe('only keys starting with this (default: all)') },
    output: { prefix: z.string(), keys: z.array(z.string()) },
    annotations: READ_ONLY,
    run(agent, args) {
      const prefix = args.prefix ?? '';
      return { prefix, keys: agent.kv.list(prefix).map((e) => e.key) };
    },
  }),
];

export const MCP_TOOL_NAMES: readonly string[] = MCP_TOOLS.map((t) => t.name);

/**
 * The tools named in a `--tools` list, in the reference order; throws on names that are not
 * tools (with the list of those that are).
 */
export function selectTools(names?: readonly string[]): McpTool[] {
  if (names === undefined) return [...MCP_TOOLS];
  if (names.length === 0) throw new AgentfsError('usage', `no tools selected (available: ${MCP_TOOL_NAMES.join(', ')})`);
  const unknown = names.filter((n) => !MCP_TOOL_NAMES.includes(n));
  if (unknown.length) {
    throw new AgentfsError(
      'usage',
      `unknown tool${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')} (available: ${MCP_TOOL_NAMES.join(', ')})`,
    );
  }
  const wanted = new Set(names);
  return MCP_TOOLS.filter((t) => wanted.has(t.name));
}
