import { basename } from 'node:path';
import type { ToolCalls } from './calls.js';
import type { ToolCall } from './types.js';

/** Keeps the last `limit` bytes of a stream (the tail of a command's output). */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** bytes seen in all */
  total = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = Math.max(0, limit);
  }

  push(chunk: Buffer | string): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.total += b.length;
    if (this.limit === 0) return;
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length;
  }

  /** The tail as text; a character cut in half at the start is dropped. */
  text(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    if (buf.length > this.limit) buf = buf.subarray(buf.length - this.limit);
    let start = 0;
    while (start < buf.length && start < 4 && (buf[start]! & 0xc0) === 0x80) start++; // UTF-8 continuation bytes
    return buf.subarray(start).toString('utf8');
  }

  get truncated(): boolean {
    return this.total > this.limit;
  }
}

export interface CommandCallOptions {
  /** the tool name (default: the program's base name) */
  name?: string;
  /** working directory recorded in the parameters */
  cwd: string;
  /**
   * Announce the call to other processes (default true): a mount served by another process
   * attributes the file changes it journals meanwhile to this call.
   */
  shared?: boolean;
  /** bytes of stdout and of stderr kept in the result (default 4096 each) */
  tailBytes?: number;
  /** extra parameters to record (e.g. the sandbox's allowed paths) */
  extra?: Record<string, unknown>;
}

export interface CommandExit {
  /** exit code, or null when killed by a signal */
  code: number | null;
  signal?: NodeJS.Signals | string | null;
  /** the command could not be started at all (spawn error) */
  spawnError?: Error;
}

/**
 * A command run as one tool call (`agentfs record`, `agentfs run`): pending while it runs, then
 * success on exit 0, error on a non-zero exit, a signal, or a failure to start. Parameters hold
 * argv and cwd; the result (or the error text) holds the exit status, duration and a bounded
 * tail of stdout/stderr fed through `stdout()`/`stderr()`.
 */
export class CommandCall {
  readonly id: number;
  readonly name: string;
  private readonly tools: ToolCalls;
  private readonly out: TailBuffer;
  private readonly err: TailBuffer;
  private readonly startedMs = Date.now();
  private done: ToolCall | undefined;

  constructor(tools: ToolCalls, id: number, name: string, tailBytes: number) {
    this.tools = tools;
    this.id = id;
    this.name = name;
    this.out = new TailBuffer(tailBytes);
    this.err = new TailBuffer(tailBytes);
  }

  stdout(chunk: Buffer | string): void {
    this.out.push(chunk);
  }

  stderr(chunk: Buffer | string): void {
    this.err.push(chunk);
  }

  /** Finishes the call from the command's exit status (once; later calls return the same). */
  finish(exit: CommandExit): ToolCall {
    if (this.done) return this.done;
    const result = {
      exit_code: exit.code,
      signal: exit.signal ?? null,
      duration_ms: Date.now() - this.startedMs,
      stdout_tail: this.out.text(),
      stderr_tail: this.err.text(),
      stdout_bytes: this.out.total,
      stderr_bytes: this.err.total,
    };
    if (exit.spawnError) {
      this.done = this.tools.error(this.id, `cannot run ${this.name}: ${exit.spawnError.message}`);
    } else if (exit.code === 0) {
      this.done = this.tools.success(this.id, result);
    } else {
      const how = exit.code === null ? `killed by ${exit.signal ?? 'a signal'}` : `exited with code ${exit.code}`;
      // the error column is text (agentfs-sdk): the status line, then the stderr tail
      const tail = result.stderr_tail.trimEnd();
      this.done = this.tools.error(this.id, tail ? `${how}\n${tail}` : how, result);
    }
    return this.done;
  }
}

/** Starts the tool call for running argv in cwd; feed it output and finish() it at exit. */
export function startCommandCall(tools: ToolCalls, argv: readonly string[], options: CommandCallOptions): CommandCall {
  if (!argv.length) throw new Error('startCommandCall needs a command');
  const name = options.name ?? basename(argv[0]!);
  const id = tools.start(name, { argv: [...argv], cwd: options.cwd, ...options.extra }, { shared: options.shared ?? true });
  return new CommandCall(tools, id, name, options.tailBytes ?? 4096);
}
