/** Why a kv operation was refused (POSIX-style code, as everywhere in agentfs). */
export class KvError extends Error {
  readonly code: 'EINVAL' | 'ENOENT' | 'EILSEQ';
  constructor(code: KvError['code'], message: string) {
    super(message);
    this.name = 'KvError';
    this.code = code;
  }
}
