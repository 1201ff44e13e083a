/**
 * ONC RPC v2 (RFC 5531) over TCP: call headers, AUTH_NONE / AUTH_SYS credentials, accepted and
 * denied replies, and a server that dispatches calls to programs by (program, version, procedure).
 *
 * Calls of one connection are served in arrival order, synchronously; the replies of everything
 * that arrived together are held until `beforeReplies` has run (the NFS layer ends its burst of
 * changes there), then written in one go.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Caller } from '../core/types.js';
import { RecordReader, recordMark, type RecordEvent } from './records.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

export const CALL = 0;
export const REPLY = 1;
export const MSG_ACCEPTED = 0;
export const MSG_DENIED = 1;

export const AcceptStat = {
  SUCCESS: 0,
  PROG_UNAVAIL: 1,
  PROG_MISMATCH: 2,
  PROC_UNAVAIL: 3,
  GARBAGE_ARGS: 4,
  SYSTEM_ERR: 5,
} as const;

export const RPC_MISMATCH = 0;
export const AUTH_ERROR = 1;
export const AUTH_BADCRED = 1;

export const AUTH_NONE = 0;
export const AUTH_SYS = 1;

/** The identity of AUTH_NONE calls (nobody). */
export const NOBODY: Caller = Object.freeze({ uid: 65534, gid: 65534 });

/** Calls and replies carry at most this much besides READ/WRITE data. */
export const MAX_RECORD = (1 << 20) + (64 << 10);

export interface CallContext {
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  caller: Caller;
  /** the client's address, for MOUNT's bookkeeping */
  remote: string;
}

/**
 * A procedure: decodes every argument from `args` first (an XdrError there becomes GARBAGE_ARGS),
 * then writes its results to `out`.
 */
export type Procedure = (args: XdrReader, out: XdrWriter, ctx: CallContext) => void;

export interface RpcProgram {
  prog: number;
  vers: number;
  procedures: ReadonlyArray<Procedure | undefined>;
}

export interface RpcServerOptions {
  programs: RpcProgram[];
  /** runs after a burst of calls was served and before their replies go out */
  beforeReplies?: () => void;
  /** unexpected errors (procedures that threw something other than XdrError) */
  onError?: (e: unknown) => void;
  maxRecord?: number;
  /** most bytes of unfinished records held for all clients together (default 256 MiB) */
  maxPartial?: number;
}

const TRACE = Boolean(process.env.AGENTFS_NFS_TRACE);

/** Pause reading from a client that leaves this much of its replies unread. */
const MAX_UNSENT = 8 << 20;

/**
 * Unfinished records of all clients together are held up to this much: clients that start large
 * records and never finish them (slow or hostile) cannot fill memory. Past it, the connections
 * whose unfinished records started longest ago are dropped (a live client finishes a record in
 * moments, a stalled one holds it).
 */
export const MAX_PARTIAL = 256 << 20;

export class RpcServer {
  private readonly server: Server;
  private readonly byProg = new Map<number, Map<number, RpcProgram>>();
  private readonly connections = new Set<Socket>();
  /** connections holding an unfinished record -> its bytes held, oldest record first */
  private readonly unfinished = new Map<Socket, number>();
  private readonly maxRecord: number;
  private readonly maxPartial: number;
  /** bytes of unfinished records held, all connections */
  private partial = 0;

  constructor(private readonly options: RpcServerOptions) {
    for (const p of options.programs) {
      let versions = this.byProg.get(p.prog);
      if (!versions) this.byProg.set(p.prog, (versions = new Map()));
      versions.set(p.vers, p);
    }
    this.maxRecord = options.maxRecord ?? MAX_RECORD;
    this.maxPartial = options.maxPartial ?? MAX_PARTIAL;
    // half-open: a client may send its calls and shut its side down; it still gets every reply
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen({ port, host, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops listening and drops every connection. */
  close(): Promise<void> {
    for (const s of this.connections) s.destroy();
    this.connections.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.connections.add(socket);
    const reader = new RecordReader(this.maxRecord);
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    /** records received but not yet served (the client sent them faster than it reads replies) */
    let queue: RecordEvent[] = [];
    let next = 0;
    /** the client has sent everything it will (FIN): end once its calls are answered */
    let ended = false;
    const drop = (): void => {
      this.connections.delete(socket);
      queue = [];
      next = 0;
      this.forget(socket);
    };
    socket.on('close', drop);
    socket.on('error', () => socket.destroy());
    // serve calls only while the client takes its replies: a few bytes of READ calls ask for
    // megabytes of replies, so serving a whole socket chunk of them at once could fill memory
    const pump = (): void => {
      const replies: Buffer[][] = [];
      let unsent = socket.writableLength;
      while (next < queue.length && unsent <= MAX_UNSENT && !socket.destroyed) {
        const ev = queue[next++]!;
        const reply = ev.kind === 'record' ? this.serve(ev.data, remote) : oversizedReply(ev.head);
        if (!reply) continue;
        replies.push(reply);
        for (const p of reply) unsent += p.length;
      }
      if (next === queue.length) {
        queue = [];
        next = 0;
      }
      if (replies.length > 0) {
        // a failed commit before the replies un-does what they report: send none and drop the
        // connection, so the client resends those calls (as after a server crash)
        if (!this.flush()) {
          socket.destroy();
          return;
        }
        if (socket.destroyed) return;
        socket.cork();
        for (const parts of replies) {
          let length = 0;
          for (const p of parts) length += p.length;
          socket.write(recordMark(length));
          for (const p of parts) socket.write(p);
        }
        socket.uncork();
      }
      // the rest waits for 'drain' (due: more than the high-water mark is queued)
      if (next < queue.length || socket.writableLength > MAX_UNSENT) socket.pause();
      else if (ended) socket.end();
      else socket.resume();
    };
    socket.on('drain', pump);
    socket.on('end', () => {
      ended = true;
      pump();
    });
    socket.on('data', (chunk: Buffer) => {
      const events = reader.push(chunk);
      for (const ev of events) queue.push(ev);
      this.hold(socket, reader.buffered, events.length > 0);
      if (socket.destroyed) return;
      pump();
    });
  }

  /**
   * Notes how much of an unfinished record socket holds (`fresh`: records were completed, what is
   * held belongs to a new one); drops the stalest holders past the budget.
   */
  private hold(socket: Socket, bytes: number, fresh: boolean): void {
    if (bytes === 0 || fresh) this.forget(socket);
    if (bytes === 0) return;
    this.partial += bytes - (this.unfinished.get(socket) ?? 0);
    // set() keeps an existing key's place: the order stays that of the records' starts
    this.unfinished.set(socket, bytes);
    while (this.partial > this.maxPartial && this.unfinished.size > 0) {
      // Map order is insertion order: the first is the one whose record started first
      const [victim] = this.unfinished.keys();
      this.forget(victim!);
      victim!.destroy();
    }
  }

  private forget(socket: Socket): void {
    this.partial -= this.unfinished.get(socket) ?? 0;
    this.unfinished.delete(socket);
  }

  private flush(): boolean {
    try {
      this.options.beforeReplies?.();
      return true;
    } catch (e) {
      this.options.onError?.(e);
      return false;
    }
  }

  /** Serves one call record; returns the reply's buffers, or undefined when none is due. */
  serve(record: Buffer, remote = ''): Buffer[] | undefined {
    const r = new XdrReader(record);
    let xid: number;
    try {
      xid = r.uint32();
      if (r.uint32() !== CALL) return undefined; // not a call: nothing to answer
    } catch {
      return undefined; // not even an xid: nothing to answer to
    }
    let ctx: CallContext;
    try {
      const rpcvers = r.uint32();
      if (rpcvers !== 2) return denied(xid, (w) => w.uint32(RPC_MISMATCH).uint32(2).uint32(2));
      const prog = r.uint32();
      const vers = r.uint32();
      const proc = r.uint32();
      const caller = readCredential(r);
      r.uint32(); // verifier flavor
      r.opaque(400);
      if (caller === undefined) return denied(xid, (w) => w.uint32(AUTH_ERROR).uint32(AUTH_BADCRED));
      ctx = { xid, prog, vers, proc, caller, remote };
    } catch {
      return accepted(xid, AcceptStat.GARBAGE_ARGS).parts();
    }
    if (TRACE) console.error(`rpc call xid=${xid} prog=${ctx.prog} vers=${ctx.vers} proc=${ctx.proc} len=${record.length}`);
    const versions = this.byProg.get(ctx.prog);
    if (!versions) return accepted(xid, AcceptStat.PROG_UNAVAIL).parts();
    const program = versions.get(ctx.vers);
    if (!program) {
      const vs = [...versions.keys()];
      return accepted(xid, AcceptStat.PROG_MISMATCH).uint32(Math.min(...vs)).uint32(Math.max(...vs)).parts();
    }
    const procedure = program.procedures[ctx.proc];
    if (!procedure) return accepted(xid, AcceptStat.PROC_UNAVAIL).parts();
    const out = accepted(xid, AcceptStat.SUCCESS);
    try {
      procedure(r, out, ctx);
      return out.parts();
    } catch (e) {
      if (e instanceof XdrError) return accepted(xid, AcceptStat.GARBAGE_ARGS).parts();
      this.options.onError?.(e);
      return accepted(xid, AcceptStat.SYSTEM_ERR).parts();
    }
  }
}

/** AUTH_NONE -> nobody, AUTH_SYS -> its uid/gid/groups; another flavor or a bad body -> undefined. */
function readCredential(r: XdrReader): Caller | undefined {
  const flavor = r.uint32();
  const body = r.opaque(400);
  if (flavor === AUTH_NONE) return NOBODY;
  if (flavor !== AUTH_SYS) return undefined;
  try {
    const c = new XdrReader(body);
    c.uint32(); // stamp
    c.opaque(255); // machine name
    const uid = c.uint32();
    const gid = c.uint32();
    const n = c.uint32();
    if (n > 16) return undefined;
    const groups: number[] = [];
    for (let i = 0; i < n; i++) groups.push(c.uint32());
    return { uid, gid, groups };
  } catch {
    return undefined; // a malformed AUTH_SYS body is a bad credential (AUTH_BADCRED)
  }
}

function accepted(xid: number, stat: number): XdrWriter {
  return new XdrWriter().uint32(xid).uint32(REPLY).uint32(MSG_ACCEPTED).uint32(AUTH_NONE).uint32(0).uint32(stat);
}

function denied(xid: number, body: (w: XdrWriter) => void): Buffer[] {
  const w = new XdrWriter().uint32(xid).uint32(REPLY).uint32(MSG_DENIED);
  body(w);
  return w.parts();
}

/** A record too large to take in: GARBAGE_ARGS if its head shows a call's xid. */
function oversizedReply(head: Buffer): Buffer[] | undefined {
  if (head.length < 8 || head.readUInt32BE(4) !== CALL) return undefined;
  return accepted(head.readUInt32BE(0), AcceptStat.GARBAGE_ARGS).parts();
}
