import type { Command } from 'commander';
import { untilStopSignal } from '../../platform/signals.js';
import { resolveAgent } from '../../sandbox/resolve.js';
import { AGENT_ARG } from '../agent-arg.js';
import { reportServeError, UserError } from '../errors.js';

// defaults repeated here so that `serve mcp` does not load the NFS server (src/nfs/server.ts has them too)
const DEFAULT_NFS_HOST = '127.0.0.1';
const DEFAULT_NFS_PORT = 11111;

interface NfsOptions {
  bind: string;
  port: string;
  json?: boolean;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n > 65535) throw new UserError(`--port ${value}: expected a port number 0-65535`);
  return n;
}

/** `agentfs serve nfs`: the agent over NFSv3 until SIGINT/SIGTERM. */
export function registerServeNfs(serve: Command): void {
  serve
    .command('nfs')
    .description('Serve the agent\'s filesystem over NFSv3 (with MOUNT on the same TCP port), for hosts without FUSE')
    .argument('<ID>', AGENT_ARG)
    .option('--bind <IP>', 'address to listen on', DEFAULT_NFS_HOST)
    .option('--port <PORT>', 'TCP port for NFS and MOUNT (0: any free port)', String(DEFAULT_NFS_PORT))
    .option('--json', 'print the address as one JSON line')
    .action(async (id: string, opts: NfsOptions) => {
      const port = parsePort(opts.port);
      // an empty host would listen on every address
      if (!opts.bind.trim()) throw new UserError('--bind: expected an IP address (127.0.0.1 unless you mean to serve others)');
      const { isLoopback, serveAgentNfs } = await import('../../nfs/index.js');
      const { target, database } = resolveAgent(id);
      let served;
      try {
        served = await serveAgentNfs(target, {
          host: opts.bind,
          port,
          onError: (e) => reportServeError('serve nfs', e, database),
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EADDRINUSE') throw new UserError(`port ${port} on ${opts.bind} is already in use (try --port 0)`);
        if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EINVAL') {
          throw new UserError(`cannot listen on ${opts.bind}: ${err.code}`);
        }
        if (err.code === 'EACCES') throw new UserError(`cannot listen on ${opts.bind}:${port}: permission denied`);
        throw e;
      }
      const { server, agent } = served;
      const host = server.host;
      // listen for the signals before the address is out: whoever reads it may stop us at once
      // (a SIGINT then found no handler and ended us without closing the agent)
      const stopped = untilStopSignal();
      const info = { host, port: server.port, export: '/', database: agent.store.path, pid: process.pid };
      if (opts.json) console.log(JSON.stringify(info));
      else {
        console.log(`agentfs: serving ${info.database} over NFSv3 on ${host}:${info.port} (export /)`);
        const h = host.includes(':') ? `[${host}]` : host;
        console.log(`mount with: mount -t nfs -o vers=3,tcp,port=${info.port},mountport=${info.port},nolock ${h}:/ MOUNTPOINT`);
      }
      // judged on the address bound, not the name given (a name may resolve anywhere)
      if (!isLoopback(host)) {
        console.error(`agentfs: warning: listening on ${host}, not loopback: NFSv3 AUTH_SYS is not authentication, anyone who reaches this port can read and change the agent's files as any user`);
      }
      await stopped.signal;
      try {
        await served.close();
      } catch (e) {
        console.error(`agentfs serve nfs: ${(e as Error).message}`);
      }
    });
}
