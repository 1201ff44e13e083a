import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { escapeBytes } from '../core/fs/names.js';
import { UserError } from './errors.js';

/**
 * Accept the id-first order other AgentFS docs use (`agentfs fs ID ls PATH`) as well as the
 * reference order (`agentfs fs ls ID PATH`): rewrite the former into the latter.
 */
const FS_SUBCOMMANDS = new Set(['ls', 'cat', 'write', 'mkdir', 'rm', 'mv', 'stat', 'tree', 'cp', 'ln', 'chmod', 'touch', 'help']);

export function normalizeArgv(argv: string[]): string[] {
  const out = [...argv];
  const i = out.indexOf('fs', 2);
  // only when `fs` is the command word (first non-option argument)
  const first = out.slice(2).findIndex((a) => !a.startsWith('-'));
  if (i < 0 || first < 0 || i !== first + 2) return out;
  const a = out[i + 1];
  const b = out[i + 2];
  if (a !== undefined && b !== undefined && !FS_SUBCOMMANDS.has(a) && !a.startsWith('-') && FS_SUBCOMMANDS.has(b)) {
    out[i + 1] = b;
    out[i + 2] = a;
  }
  return out;
}

/**
 * Node decodes arguments that are not UTF-8 lossily (each bad byte becomes U+FFFD), so
 * `/bad\xff\xfe` and `/bad\x80\x81` would name the same file. The raw bytes are still in
 * /proc/self/cmdline (Linux): an argument that is not UTF-8 is refused with EILSEQ.
 */
export function checkArgvEncoding(argv: string[], cmdline = '/proc/self/cmdline'): void {
  if (!argv.slice(2).some((a) => a.includes('\uFFFD'))) return;
  let raw: Buffer[];
  try {
    raw = splitCmdline(readFileSync(cmdline));
  } catch {
    return; // no /proc: nothing to compare with
  }
  const args = argv.slice(2);
  if (raw.length < args.length) return;
  const tail = raw.slice(raw.length - args.length);
  for (let i = 0; i < args.length; i++) {
    const bytes = tail[i]!;
    // a different argument list (process.title was set): not ours to judge
    if (bytes.toString('utf8') !== args[i]) return;
  }
  const bad = tail.find((b) => !isUtf8(b));
  if (bad) throw new UserError(`EILSEQ: argument '${escapeBytes(bad)}' is not valid UTF-8 (names and text must be UTF-8)`);
}

function splitCmdline(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) {
      out.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}
