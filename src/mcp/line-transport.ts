/**
 * MCP over stdio, one JSON-RPC message per line, in place of the SDK's StdioServerTransport. The
 * SDK's transport closes the whole server (exit 0, not a word) when a line passes 10 MB, and drops
 * lines that are not JSON or not valid JSON-RPC without an answer. Here every bad line gets a
 * JSON-RPC error reply and the server keeps serving:
 *  - a line longer than the limit: -32600, its bytes are discarded as they arrive (never buffered)
 *  - not JSON: -32700 (id null); JSON that is not one message object: -32600
 *  - a request whose params are not an object, or not what its MCP method takes: -32602
 *  - JSON nested deeper than MAX_DEPTH: -32600 (before anything recursive sees it)
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { checkJsonText } from '../core/kv/index.js';
import { isStackOverflow } from '../core/thrown.js';
import { ClientRequestSchema, ErrorCode, JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The longest message line accepted (a write_file of ~48 MiB of base64 content fits). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** The deepest nesting of arrays and objects accepted in a message. */
export const MAX_DEPTH = 256;
/** How much of an oversized line is kept to find its id. */
const KEEP = 4096;

type Id = string | number | null;

export class LineStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** a tools/call refused here, before the server sees it: recorded in the audit trail too */
  onrefusedcall?: (name: string, args: unknown, why: string) => void;

  private chunks: Buffer[] = [];
  private size = 0;
  /** the line is over the limit: its start (for the id) and its last bytes are all we keep */
  private head?: Buffer;
  private tail = Buffer.alloc(0);
  private closed = false;

  constructor(
    private readonly stdin: NodeJS.ReadableStream = process.stdin,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
  ) {}

  async start(): Promise<void> {
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStreamError);
    // a client that went away (EPIPE) ends the session instead of crashing the process
    this.stdout.on('error', this.onStreamError);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    const line = JSON.stringify(message) + '\n';
    await new Promise<void>((resolve) => {
      if (this.stdout.write(line)) resolve();
      else this.stdout.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStreamError);
    if (typeof (this.stdin as NodeJS.ReadStream).pause === 'function') (this.stdin as NodeJS.ReadStream).pause();
    this.chunks = [];
    this.onclose?.();
  }

  private readonly onStreamError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  private readonly onData = (chunk: Buffer | string): void => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) {
        this.take(buf.subarray(start));
        return;
      }
      this.take(buf.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
  };

  private take(part: Buffer): void {
    if (!part.length) return;
    this.size += part.length;
    if (this.head) {
      this.tail = part.length >= KEEP ? Buffer.from(part.subarray(-KEEP)) : Buffer.concat([this.tail, part]).subarray(-KEEP);
      return;
    }
    if (this.size > this.maxBytes) {
      const all = Buffer.concat([...this.chunks, part]);
      this.head = Buffer.from(all.subarray(0, KEEP));
      this.tail = Buffer.from(all.subarray(-KEEP));
      this.chunks = [];
      return;
    }
    this.chunks.push(part);
  }

  private endLine(): void {
    const { chunks, size, head, tail } = this;
    this.chunks = [];
    this.size = 0;
    this.head = undefined;
    this.tail = Buffer.alloc(0);
    if (head) {
      const mib = this.maxBytes / (1024 * 1024);
      return this.fail(idOfOversized(head.toString('utf8'), tail.toString('utf8')), ErrorCode.InvalidRequest, `Invalid Request: message of ${size} bytes exceeds the limit of ${mib} MiB`);
    }
    const text = Buffer.concat(chunks, size).toString('utf8').replace(/\r$/, '');
    if (!text.trim()) return;
    this.handleLine(text);
  }

  private handleLine(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return this.fail(null, ErrorCode.ParseError, `Parse error: ${(e as Error).message}`);
    }
    if (tooDeep(value)) {
      // the SDK, zod and the audit trail all recurse; a reply beats a stack overflow
      const id = isObject(value) && (typeof value.id === 'string' || typeof value.id === 'number') ? value.id : null;
      return this.fail(id, ErrorCode.InvalidRequest, `Invalid Request: JSON nested deeper than ${MAX_DEPTH} levels`);
    }
    if (!isObject(value)) {
      return this.fail(null, ErrorCode.InvalidRequest, 'Invalid Request: expected one JSON-RPC message object per line (batches are not supported)');
    }
    const hasId = 'id' in value;
    const id: Id = typeof value.id === 'string' || typeof value.id === 'number' ? value.id : null;
    if (typeof value.method === 'string' && 'params' in value && !isObject(value.params)) {
      // a notification gets no answer, even an error (JSON-RPC 2.0, section 4.1)
      if (hasId) this.fail(id, ErrorCode.InvalidParams, `Invalid params: the params of ${value.method} must be an object`);
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(value);
    } catch (e) {
      if (typeof value.method === 'string' && !hasId) return; // a malformed notification
      const why = isStackOverflow(e) ? 'nested too deeply' : 'not a JSON-RPC 2.0 request, notification or response';
      return this.fail(id, ErrorCode.InvalidRequest, `Invalid Request: ${why}`);
    }
    if (hasId && typeof value.method === 'string') {
      // the SDK would answer "Internal error" with a multi-line schema dump: say which params are wrong
      const problem = paramsProblem(value.method, value);
      if (problem) return this.fail(id, ErrorCode.InvalidParams, `Invalid params for ${value.method}: ${problem}`);
      const lossy = lossyKvNumber(value, text);
      if (lossy) {
        const params = value.params as Record<string, unknown>;
        try {
          this.onrefusedcall?.('kv_set', params.arguments, `invalid arguments for kv_set: ${lossy}`);
        } catch (e) {
          this.onerror?.(e as Error);
        }
        return this.fail(id, ErrorCode.InvalidParams, `Invalid params for tools/call: kv_set: ${lossy}`);
      }
    }
    try {
      this.onmessage?.(message);
    } catch (e) {
      this.onerror?.(e as Error);
      if (hasId && 'method' in message) this.fail(id, ErrorCode.InternalError, `Internal error: ${(e as Error).message}`);
    }
  }

  private fail(id: Id, code: number, message: string): void {
    void this.send({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage);
  }
}

/**
 * kv_set keeps values exactly, but JSON.parse has already turned a number a double cannot hold
 * (123456789012345678901234567890, -0, 1e-400) into another one: the line's own text is checked,
 * as the CLI checks its argument, so the value is refused rather than changed.
 */
function lossyKvNumber(value: Record<string, unknown>, text: string): string | undefined {
  if (value.method !== 'tools/call' || !isObject(value.params) || value.params.name !== 'kv_set') return undefined;
  try {
    checkJsonText(text);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

interface Issue {
  path: PropertyKey[];
  message: string;
}
interface Schema {
  safeParse(v: unknown): { success: boolean; error?: { issues: Issue[] } };
}

/** Each MCP client request's schema by method name (from the SDK's union of them). */
const REQUEST_SCHEMAS = new Map<string, Schema>(
  (ClientRequestSchema as unknown as { options: { shape: { method: { value: string } } }[] }).options.map((o) => [o.shape.method.value, o as unknown as Schema]),
);

/** One line naming what is wrong with a known method's params, or undefined (fine or unknown). */
function paramsProblem(method: string, request: Record<string, unknown>): string | undefined {
  const schema = REQUEST_SCHEMAS.get(method);
  if (!schema) return undefined;
  const r = schema.safeParse({ method, params: request.params });
  if (r.success) return undefined;
  return (r.error?.issues ?? [])
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || 'params'}: ${i.message}`)
    .join('; ')
    .slice(0, 500);
}

/** Iterative (a recursive walk would overflow on exactly what it looks for). */
function tooDeep(root: unknown): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_DEPTH) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ID = String.raw`(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")`;
/** `"id"` as a top-level member before any object-valued one, as clients write it first... */
const ID_FIRST = new RegExp(String.raw`^\s*\{\s*(?:"(?:[^"\\]|\\.)*"\s*:\s*(?:"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)\s*,\s*)*"id"\s*:\s*${ID}`);
/** ...or as the last member, closing the message. */
const ID_LAST = new RegExp(String.raw`[,{]\s*"id"\s*:\s*${ID}\s*\}\s*\r?$`);

/** The id of a message too long to parse, from its first and last bytes (null if not found). */
export function idOfOversized(head: string, tail: string): Id {
  const m = ID_FIRST.exec(head) ?? ID_LAST.exec(tail);
  if (!m) return null;
  const raw = m[1]!;
  try {
    return JSON.parse(raw) as string | number;
  } catch {
    return null;
  }
}
