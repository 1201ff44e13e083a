import type { JournalOp } from './schema.js';
import type { ToolCallStatus } from '../tools/types.js';

/** One journal row as readers see it (absent fields undefined). */
export interface JournalEntry {
  id: number;
  /** when it happened (first write of a burst), Unix nanoseconds (a double: ~250 ns precision) */
  time_ns: number;
  /** last write of a coalesced burst */
  end_ns?: number;
  op: JournalOp;
  /** the path operated on; for rename/link the source, for create/mkdir/... the new entry */
  path?: string;
  /** rename/link destination, symlink target */
  new_path?: string;
  ino: number;
  /** write: lowest offset written */
  offset?: number;
  /** write: bytes from offset to the end of the highest write (the range touched) */
  length?: number;
  /** write: bytes written in the burst (overwrites counted again) */
  bytes?: number;
  /** write: write calls coalesced into this row */
  writes?: number;
  /** file size after write/truncate */
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /** the tool call in progress when it happened */
  tool_call_id?: number;
  /** process that performed it */
  pid?: number;
}

export interface JournalFilter {
  /** time_ns >= since_ns */
  sinceNs?: bigint;
  /** time_ns <= until_ns */
  untilNs?: bigint;
  /** only entries recorded inside this call */
  toolCallId?: number;
  /** only entries inside calls of this tool name */
  toolName?: string;
  /** only entries inside calls with this status */
  toolStatus?: ToolCallStatus;
  /** path or new_path matches (picomatch glob, or a predicate) */
  path?: string | ((p: string) => boolean);
  /** entries with id > afterId (for following) */
  afterId?: number;
  limit?: number;
  /** 'desc' (default): newest first */
  order?: 'asc' | 'desc';
}
