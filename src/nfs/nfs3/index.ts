/** The NFS version 3 program (100003): procedure number -> procedure. */
import type { Procedure, RpcProgram } from '../rpc.js';
import type { NfsState } from '../state.js';
import * as attrs from './attrs.js';
import * as names from './names.js';
import * as files from './files.js';
import * as dirs from './dirs.js';
import { procedure, type Nfs3Proc } from './common.js';

export const NFS_PROGRAM = 100003;
export const NFS_V3 = 3;

export function nfs3Program(s: NfsState, onError?: (e: unknown) => void): RpcProgram {
  const p = <A>(proc: Nfs3Proc<A>): Procedure => procedure(s, proc, onError);
  const nul: Procedure = () => {};
  return {
    prog: NFS_PROGRAM,
    vers: NFS_V3,
    procedures: [
      nul, // 0 NULL
      p(attrs.getattr), // 1
      p(attrs.setattr), // 2
      p(names.lookup), // 3
      p(attrs.access), // 4
      p(attrs.readlink), // 5
      p(files.read), // 6
      p(files.write), // 7
      p(names.create), // 8
      p(names.mkdir), // 9
      p(names.symlink), // 10
      p(names.mknod), // 11
      p(names.remove), // 12
      p(names.rmdir), // 13
      p(names.rename), // 14
      p(names.link), // 15
      p(dirs.readdir), // 16
      p(dirs.readdirplus), // 17
      p(attrs.fsstat), // 18
      p(attrs.fsinfo), // 19
      p(attrs.pathconf), // 20
      p(files.commit), // 21
    ],
  };
}
