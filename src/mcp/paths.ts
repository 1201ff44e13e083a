import { posix } from 'node:path';
import { FsError } from '../core/errors.js';

/**
 * A path argument from an MCP client as an absolute path inside the agent's filesystem.
 *
 * Relative paths are taken from the agent root and `..` is resolved lexically, clamped at `/`,
 * so `../../etc/passwd` names the agent's own `/etc/passwd`: a client can never reach (or even
 * name) a host path through this server. NUL bytes are refused rather than truncated.
 */
export function agentPath(input: string, syscall?: string): string {
  if (input.includes('\0')) throw new FsError('EINVAL', syscall, JSON.stringify(input), 'path contains a NUL byte');
  // posix.resolve with an absolute first argument never consults process.cwd()
  const resolved = posix.resolve('/', input);
  // ...but it drops a trailing `/` or `/.`, which say "a directory" (ENOTDIR for a file, as the
  // CLI and the kernel answer): a `remove` of `file/` must not remove the file
  return resolved !== '/' && /(^|\/)\.?\/*$/.test(input) && !/(^|\/)\.\.\/*$/.test(input) ? `${resolved}/` : resolved;
}
