import { AgentfsError, type ErrorCode } from '../errors.js';

/** Errors about the database file itself (missing, foreign, corrupt, too old), not about paths in it. */
export class StoreError extends AgentfsError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'StoreError';
  }
}
