import { constants as osConstants } from 'node:os';

/** POSIX error names we raise; numbers come from the host (Linux) so FUSE can return -errno. */
export type ErrnoCode =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EACCES' | 'EEXIST' | 'EXDEV' | 'ENOTDIR' | 'EISDIR'
  | 'EINVAL' | 'EFBIG' | 'ENOSPC' | 'EROFS' | 'EMLINK' | 'ENAMETOOLONG' | 'ENOTEMPTY' | 'ELOOP'
  | 'ENOSYS' | 'ENOTSUP' | 'ENODATA' | 'ERANGE' | 'EBUSY' | 'ENOTCONN' | 'ESTALE' | 'EAGAIN'
  | 'EILSEQ';

const errnoNumbers = osConstants.errno as Record<string, number>;
const DEBUG = Boolean(process.env.AGENTFS_DEBUG);

/** An error carrying a POSIX errno code, as raised by every filesystem operation. */
export class FsError extends Error {
  readonly code: ErrnoCode;
  readonly errno: number;
  readonly syscall?: string;
  readonly path?: string;

  constructor(code: ErrnoCode, syscall?: string, path?: string, detail?: string) {
    const where = [syscall, path].filter(Boolean).join(' ');
    // An expected outcome (a negative lookup on every create), not a bug: capturing a stack
    // trace would be most of its cost on the FUSE hot path. AGENTFS_DEBUG keeps the traces.
    const limit = Error.stackTraceLimit;
    if (!DEBUG) Error.stackTraceLimit = 0;
    super(`${code}: ${detail ?? describe(code)}${where ? `, ${where}` : ''}`);
    Error.stackTraceLimit = limit;
    this.name = 'FsError';
    this.code = code;
    this.errno = errnoNumbers[code] ?? 5;
    this.syscall = syscall;
    this.path = path;
  }
}

export function isFsError(e: unknown, code?: ErrnoCode): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}

/** Positive errno number for any thrown value (EIO for anything that is not an FsError). */
export function errnoOf(e: unknown): number {
  if (e instanceof FsError) return e.errno;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && errnoNumbers[code]) return errnoNumbers[code];
  // SQLite could not grow the database or its WAL: the disk under it is full
  if (code === 'SQLITE_FULL') return errnoNumbers.ENOSPC ?? 28;
  return errnoNumbers.EIO ?? 5;
}

function describe(code: ErrnoCode): string {
  switch (code) {
    case 'EPERM': return 'operation not permitted';
    case 'ENOENT': return 'no such file or directory';
    case 'EIO': return 'input/output error';
    case 'EBADF': return 'bad file descriptor';
    case 'EACCES': return 'permission denied';
    case 'EEXIST': return 'file already exists';
    case 'EXDEV': return 'cross-device link';
    case 'ENOTDIR': return 'not a directory';
    case 'EISDIR': return 'is a directory';
    case 'EINVAL': return 'invalid argument';
    case 'EFBIG': return 'file too large';
    case 'ENOSPC': return 'no space left on device';
    case 'EROFS': return 'read-only file system';
    case 'EMLINK': return 'too many links';
    case 'ENAMETOOLONG': return 'file name too long';
    case 'ENOTEMPTY': return 'directory not empty';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'ENOSYS': return 'function not implemented';
    case 'ENOTSUP': return 'operation not supported';
    case 'ENODATA': return 'no data available';
    case 'ERANGE': return 'result too large';
    case 'EBUSY': return 'device or resource busy';
    case 'ENOTCONN': return 'transport endpoint is not connected';
    case 'ESTALE': return 'stale file handle';
    case 'EAGAIN': return 'resource temporarily unavailable';
    case 'EILSEQ': return 'invalid or incomplete multibyte or wide character';
  }
}

/**
 * A refused kv or tool-call operation (KvError, ToolCallError): a POSIX-style code, and a message
 * that, unlike FsError's, does not start with it.
 */
export class CoreError<C extends string = string> extends Error {
  readonly code: C;
  constructor(code: C, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
