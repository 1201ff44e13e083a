import { CoreError } from '../errors.js';

/** Why a kv operation was refused (POSIX-style code, as everywhere in agentfs). */
export class KvError extends CoreError<'EINVAL' | 'ENOENT' | 'EILSEQ'> {}
