import type { ToolCall, ToolCallFilter, ToolCallStats, ToolCalls } from '../core/tools/index.js';

/**
 * A started, pending tool call. It stands for its id wherever agentfs-sdk code expects the number
 * `start()` used to return (`tools.success(call, r)`, `${call}`, `+call`, JSON), and finishes itself.
 */
export class ToolCallHandle {
  readonly id: number;
  readonly name: string;
  private readonly tools: AgentTools;

  constructor(tools: AgentTools, id: number, name: string) {
    this.tools = tools;
    this.id = id;
    this.name = name;
  }

  async success(result?: unknown): Promise<ToolCall> {
    return this.tools.success(this.id, result);
  }

  async error(err: unknown): Promise<ToolCall> {
    return this.tools.error(this.id, err);
  }

  /** Runs fn as this call's work: tool calls and file operations inside it nest under this call. */
  run<T>(fn: () => T): T {
    return this.tools.runIn(this.id, fn);
  }

  valueOf(): number {
    return this.id;
  }

  toString(): string {
    return String(this.id);
  }

  toJSON(): number {
    return this.id;
  }

  [Symbol.toPrimitive](hint: string): number | string {
    return hint === 'string' ? String(this.id) : this.id;
  }
}

export type CallRef = number | ToolCallHandle;

/**
 * The agent's tool-call log (`agent.tools`), with agentfs-sdk's methods (start/success/error,
 * record, get, getByName, getRecent, getStats) plus `wrap(name, fn)` and filtered `list()`.
 */
export class AgentTools {
  private readonly core: ToolCalls;

  constructor(core: ToolCalls) {
    this.core = core;
  }

  /**
   * Starts a pending call and returns its handle. A call started while another of this process
   * runs (inside a wrapped function, or after an unfinished start) is recorded as nested in it.
   */
  async start(name: string, parameters?: unknown): Promise<ToolCallHandle> {
    return new ToolCallHandle(this, this.core.start(name, parameters), name);
  }

  async success(call: CallRef, result?: unknown): Promise<ToolCall> {
    return this.core.success(idOf(call), result);
  }

  async error(call: CallRef, err: unknown): Promise<ToolCall> {
    return this.core.error(idOf(call), err);
  }

  /** Records a finished call (times in Unix seconds); an error makes it a failed call. */
  async record(
    name: string,
    started_at: number,
    completed_at: number,
    parameters?: unknown,
    result?: unknown,
    error?: string,
  ): Promise<number> {
    return this.core.record({ name, started_at, completed_at, parameters, result, error });
  }

  /** The call by id, or by the handle start() gave (it stands for the id, so get(handle) found nothing). */
  async get(call: CallRef): Promise<ToolCall | undefined> {
    return this.core.get(idOf(call));
  }

  async getByName(name: string, limit?: number): Promise<ToolCall[]> {
    return this.core.list({ name, limit });
  }

  /** Calls started after `since` (Unix seconds), newest first. */
  async getRecent(since: number, limit?: number): Promise<ToolCall[]> {
    return this.core.list({ since: Math.floor(since) + 1, limit });
  }

  async getStats(): Promise<ToolCallStats[]> {
    return this.core.stats();
  }

  async list(filter: ToolCallFilter = {}): Promise<ToolCall[]> {
    return this.core.list(filter);
  }

  /**
   * Returns a function that records every call of fn as a tool call named `name`: parameters are
   * the argument (or the argument list when there is not exactly one), then the result or the
   * error, and the timing. Calls and file operations made inside fn nest under it.
   */
  wrap<A extends unknown[], R>(name: string, fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<Awaited<R>> {
    return async (...args: A): Promise<Awaited<R>> => {
      const id = this.core.start(name, args.length === 1 ? args[0] : args, { scoped: true });
      let out: Awaited<R>;
      try {
        out = await this.core.runInCall(id, async () => await fn(...args));
      } catch (e) {
        this.core.error(id, e);
        throw e;
      }
      this.core.success(id, out);
      return out;
    };
  }

  /** Runs fn with call `id` as the call in progress (see ToolCallHandle.run). */
  runIn<T>(id: CallRef, fn: () => T): T {
    return this.core.runInCall(idOf(id), fn);
  }
}

function idOf(call: CallRef): number {
  return typeof call === 'number' ? call : call.id;
}
