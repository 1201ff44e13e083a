/**
 * Enough of the portmapper (program 100000, version 2) for clients that ask where NFS and MOUNT
 * are before using them: both are on this one port (TCP). NULL, GETPORT and DUMP.
 */
import type { Procedure, RpcProgram } from './rpc.js';
import { MOUNT_PROGRAM, MOUNT_V3 } from './mount.js';
import { NFS_PROGRAM, NFS_V3 } from './nfs3/index.js';

export const PORTMAP_PROGRAM = 100000;
const IPPROTO_TCP = 6;

export function portmapProgram(port: () => number): RpcProgram {
  const offered: [prog: number, vers: number][] = [
    [PORTMAP_PROGRAM, 2],
    [NFS_PROGRAM, NFS_V3],
    [MOUNT_PROGRAM, MOUNT_V3],
  ];
  const getport: Procedure = (r, w) => {
    const prog = r.uint32();
    const vers = r.uint32();
    const prot = r.uint32();
    r.uint32();
    const found = prot === IPPROTO_TCP && offered.some(([p, v]) => p === prog && v === vers);
    w.uint32(found ? port() : 0);
  };
  const dump: Procedure = (_r, w) => {
    for (const [p, v] of offered) w.bool(true).uint32(p).uint32(v).uint32(IPPROTO_TCP).uint32(port());
    w.bool(false);
  };
  const refuse: Procedure = (r, w) => {
    r.uint32();
    r.uint32();
    r.uint32();
    r.uint32();
    w.bool(false); // SET / UNSET: registrations are not taken
  };
  return { prog: PORTMAP_PROGRAM, vers: 2, procedures: [() => {}, refuse, refuse, getport, dump] };
}
