/** Errors about the database file itself (missing, foreign, corrupt, too old), not about paths in it. */
export class StoreError extends Error {
  readonly code: 'ENOAGENT' | 'EACCES' | 'EROFS' | 'EEXISTS' | 'EFOREIGN' | 'ECORRUPT' | 'EOLDSCHEMA' | 'ENEWSCHEMA' | 'EBADID' | 'EBUSY';
  constructor(code: StoreError['code'], message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}
