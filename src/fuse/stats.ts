/**
 * Per-request counts and time of a FUSE session (AGENTFS_FUSE_STATS=1 or AGENTFS_FUSE_TRACE),
 * reported when the session ends: where a slow workload spends the server's time.
 */
import { Op } from './binding.js';
import { traceTarget, writeTrace } from '../trace.js';

export class RequestStats {
  private readonly ops = new Map<number, { count: number; ms: number; bytes: number }>();
  private nativeLine: string | undefined;
  /** replies written from the client's CPU (native/reply_writer.h) */
  private writerLine: string | undefined;
  private bytesLine: string | undefined;
  /** the native loop's bursts (native/fuse_session.cc serves_beside) */
  private loopLine: string | undefined;

  /** A collector when AGENTFS_FUSE_STATS is set, else undefined (nothing is timed). */
  static fromEnv(): RequestStats | undefined {
    return process.env.AGENTFS_FUSE_STATS || traceTarget() ? new RequestStats() : undefined;
  }

  add(op: number, ms: number, bytes: number): void {
    const entry = this.ops.get(op) ?? { count: 0, ms: 0, bytes: 0 };
    entry.count++;
    entry.ms += ms;
    entry.bytes += bytes;
    this.ops.set(op, entry);
  }

  /** What the native read path served (and left to JavaScript) in this session. */
  native(r: {
    active: boolean;
    served: number;
    changesServed?: number;
    declined: number;
    listedBare?: number;
    counted?: number;
    snapshots?: number;
    holdWaits?: number;
    replyFresh?: number;
    hugeMaps?: boolean;
    hostServed?: number;
    hostDeclined?: number;
    hostListedPages?: number;
    deltaActive?: boolean;
    deltaServed?: number;
    madeAbsentServed?: number;
    replyWriter?: boolean;
    repliesWritten?: number;
    repliesTakenBack?: number;
    replyBoosts?: number;
    replyBackoffs?: number;
    replyStrandings?: number;
    replyTried?: boolean;
    replyTrials?: number;
    replyTrialsKeptOn?: number;
    burstServed?: number;
    burstTried?: boolean;
    burstTrials?: number;
    burstTrialsKeptOn?: number;
    opensThrottled?: number;
    error?: string;
  }): void {
    this.writerLine = r.replyWriter
      ? `fuse reply writer: ${r.repliesWritten ?? 0} written, ${r.repliesTakenBack ?? 0} taken back, ${r.replyBoosts ?? 0} raised, stood aside ${r.replyBackoffs ?? 0} times, ${r.replyStrandings ?? 0} moves undone, ` +
        (r.replyTried ? `kept on by ${r.replyTrialsKeptOn ?? 0} of ${r.replyTrials ?? 0} trials` : 'kept on without trials')
      : 'fuse reply writer: off';
    this.loopLine =
      `fuse loop: ${r.burstServed ?? 0} requests served beside the next (parallel threads keeping the queue full; ` +
      (r.burstTried ? `handing on kept by ${r.burstTrialsKeptOn ?? 0} of ${r.burstTrials ?? 0} trials), ` : 'handed on without trials), ') +
      `${r.opensThrottled ?? 0} opens left to JavaScript while its events queue was full`;
    if (r.hostServed || r.hostDeclined || r.deltaActive) {
      // an overlay: the files that are exactly host files, and the delta's
      this.nativeLine =
        `fuse native host-file reads: ${r.hostServed ?? 0} served (${r.hostListedPages ?? 0} listing pages), ${r.hostDeclined ?? 0} left to JavaScript, ${r.replyFresh ?? 0} replies in fresh memory; ` +
        `delta getattr: ${r.deltaActive ? `${r.deltaServed ?? 0} served` : `off${r.error ? ` (${r.error})` : ''}`}; ` +
        `${r.changesServed ?? 0} attributes and ${r.madeAbsentServed ?? 0} absent names answered from uncommitted changes`;
      return;
    }
    this.nativeLine = r.active
      ? `fuse native reads: ${r.served} served, ${r.declined} left to JavaScript, ${r.listedBare ?? 0} listed entries without attributes, ${r.counted ?? 0} files' chunks counted, ${r.snapshots ?? 0} read snapshots, ${r.holdWaits ?? 0} waited for a hold, ${r.replyFresh ?? 0} replies in fresh memory, data maps in ${r.hugeMaps ? 'huge' : 'small'} pages; ${r.changesServed ?? 0} attributes answered from uncommitted changes`
      : `fuse native reads: off${r.error ? ` (${r.error})` : ''}`;
  }

  /** Large WRITEs whose bytes JavaScript got in the request's own memory (native/request_bytes.h). */
  requestBytes(r: { shared: number; reused: number }): void {
    if (r.shared) this.bytesLine = `fuse large writes: ${r.shared} in their own memory, ${r.reused} of them in memory an earlier one gave back`;
  }

  /** To the trace (AGENTFS_FUSE_TRACE) when one is set, else to stderr. */
  print(mountpoint: string): void {
    const names = new Map(Object.entries(Op).map(([k, v]) => [v as number, k]));
    const lines = [...this.ops].map(
      ([op, e]) => `fuse ${names.get(op)}: ${e.count} requests, ${e.ms.toFixed(0)} ms${e.bytes ? `, ${(e.bytes / e.count / 1024).toFixed(0)} KiB avg` : ''}`,
    );
    if (this.nativeLine) lines.push(this.nativeLine);
    if (this.writerLine) lines.push(this.writerLine);
    if (this.loopLine) lines.push(this.loopLine);
    if (this.bytesLine) lines.push(this.bytesLine);
    if (traceTarget()) writeTrace([`mount ${mountpoint}:`, ...lines]);
    else for (const line of lines) console.error(line);
  }
}
