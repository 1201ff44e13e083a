import { CoreError } from '../errors.js';

/** Why a tool-call operation was refused (POSIX-style code). */
export class ToolCallError extends CoreError<'ENOENT' | 'EINVAL' | 'EALREADY'> {}
