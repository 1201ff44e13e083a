/** Filesystem errors re-thrown with the syscall and path the user asked about (as Node's fs does). */
import { FsError, isFsError } from '../errors.js';

/** Errors already given their user-facing syscall and path. */
const decorated = new WeakSet<object>();

function detailOf(e: FsError): string | undefined {
  const m = /^[A-Z]+: (.*?)(?:, [a-z_0-9]+(?: .*)?)?$/s.exec(e.message);
  return m?.[1];
}

/** Runs fn; an FsError from it comes out naming `syscall` and `path`. */
export function atPath<T>(syscall: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // the innermost helper names the path; outer ones (copyFile around open) keep it
    if (isFsError(e) && !decorated.has(e)) {
      const err = new FsError(e.code, syscall, path, detailOf(e));
      decorated.add(err);
      throw err;
    }
    throw e;
  }
}
