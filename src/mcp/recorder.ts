/**
 * Every tools/call an MCP client makes becomes a tool call in the agent's audit trail: a pending
 * row in tool_calls before anything runs, the body run as that call (so the file-operation
 * journal attributes its changes to the call's id), then success with the result or error with
 * the message. Calls that never reach a tool body (unknown tool, bad arguments) are recorded too.
 */
import { createHash } from 'node:crypto';
import { CoreError } from '../core/errors.js';
import { thrownMessage } from '../core/thrown.js';
import type { ToolCalls } from '../core/tools/index.js';

/**
 * Strings longer than this are recorded as a short summary: a file's content is already in the
 * filesystem, and the audit trail should not hold a second copy of every file read or written.
 */
export const AUDIT_STRING_MAX = 4096;

/** A value as it goes into tool_calls.parameters/result: long strings replaced by a summary. */
export function auditValue(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value.length <= AUDIT_STRING_MAX) return value;
    const sha = createHash('sha256').update(value).digest('hex');
    return `[${value.length} characters, sha256 ${sha}, not recorded]`;
  }
  if (Array.isArray(value)) return value.map(auditValue);
  if (value !== null && typeof value === 'object') {
    // fromEntries: a "__proto__" key stays a key (an assignment would set the prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, auditValue(v)]));
  }
  return value;
}

/** Why a call failed, as the tool_calls.error text and the client's error message. */
export function errorMessage(e: unknown): string {
  // by type, never by the text: FsError's message starts with its errno code already, a
  // CoreError's (kv, tool calls) does not
  if (e instanceof CoreError) return `${e.code}: ${e.message}`;
  return thrownMessage(e);
}

export class CallRecorder {
  private readonly calls: ToolCalls;

  constructor(calls: ToolCalls) {
    this.calls = calls;
  }

  /**
   * Records `name(params)` as a tool call and runs body as that call. Returns body's result, or
   * rethrows its error, after the call is finished in the database. If the call cannot be
   * recorded, body does not run: an unrecorded change is what this server exists to prevent.
   */
  run<T>(name: string, params: unknown, body: () => T): T {
    const id = this.calls.start(name, auditValue(params ?? {}), { parentId: null });
    let result: T;
    try {
      result = this.calls.runInCall(id, body);
    } catch (e) {
      this.calls.error(id, errorMessage(e));
      throw e;
    }
    this.calls.success(id, auditValue(result));
    return result;
  }

  /** Records `name(params)` as a call refused before it could run (why: the error it got). */
  refused(name: string, params: unknown, why: string): void {
    const id = this.calls.start(name, auditValue(params ?? {}), { parentId: null });
    this.calls.error(id, why);
  }
}
