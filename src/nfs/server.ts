/**
 * An NFSv3 server (RFC 1813) over any FileSystem: NFS, MOUNT and a minimal portmapper on one TCP
 * port (no rpcbind needed when clients are told `port` and `mountport`). Calls are served in
 * arrival order on the JS thread; changes share a group commit (group-commit.ts).
 */
import type { FileSystem } from '../core/types.js';
import { mountProgram } from './mount.js';
import { nfs3Program } from './nfs3/index.js';
import { portmapProgram } from './portmap.js';
import { RpcServer } from './rpc.js';
import type { GroupCommit } from './group-commit.js';
import { NfsState } from './state.js';

export interface NfsServerOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 11111; 0 picks a free port */
  port?: number;
  /** 8 bytes naming the database: part of every file handle (see handles.ts) */
  generation: Buffer;
  groupCommit?: GroupCommit;
  /** longest a change waits for its commit (default 10 ms); 0 commits before the replies */
  groupCommitMs?: number;
  /** unexpected errors (bugs); the call gets SERVERFAULT / SYSTEM_ERR */
  onError?: (e: unknown) => void;
  /** most bytes of unfinished RPC records held for all clients (default MAX_PARTIAL, 256 MiB) */
  maxPartial?: number;
}

export const DEFAULT_NFS_HOST = '127.0.0.1';
export const DEFAULT_NFS_PORT = 11111;

export class NfsServer {
  readonly state: NfsState;
  /** the address bound (what --bind resolved to), once listening */
  host: string;
  port = 0;
  private readonly rpc: RpcServer;

  private constructor(fs: FileSystem, options: NfsServerOptions) {
    this.state = new NfsState(fs, options.generation, options.groupCommit, options.groupCommitMs, options.onError);
    this.host = options.host ?? DEFAULT_NFS_HOST;
    const state = this.state;
    this.rpc = new RpcServer({
      programs: [nfs3Program(state, options.onError), mountProgram(state), portmapProgram(() => this.port)],
      beforeReplies: () => state.group.endOfBurst(),
      onError: options.onError,
      maxPartial: options.maxPartial,
    });
  }

  static async start(fs: FileSystem, options: NfsServerOptions): Promise<NfsServer> {
    const server = new NfsServer(fs, options);
    const address = await server.rpc.listen(options.port ?? DEFAULT_NFS_PORT, server.host);
    server.port = address.port;
    server.host = address.address;
    return server;
  }

  get connections(): number {
    return this.rpc.connectionCount;
  }

  /** Stops listening, drops the connections and commits what was served. */
  async close(): Promise<void> {
    await this.rpc.close();
    this.state.group.commit();
  }
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:127\./i.test(host);
}
