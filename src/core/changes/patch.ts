import { isUtf8 } from 'node:buffer';
import { createTwoFilesPatch } from 'diff';
import type { OverlayChanges } from '../overlay/index.js';
import { S_IFMT, S_IFREG } from '../types.js';
import type { Change } from './types.js';

/** Files larger than this are summarised instead of diffed line by line. */
const MAX_PATCH_BYTES = 8 << 20;

/** Not text: a NUL byte (as git judges), or bytes that are not UTF-8, which would print lossily. */
function isBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8000).includes(0) || !isUtf8(buf);
}

function mergedContent(ov: OverlayChanges, path: string): Buffer | undefined {
  const e = ov.resolve(path);
  if (!e) return undefined;
  return ov.merged.read(e.node.ino, 0, e.attr.size);
}

function baseContent(ov: OverlayChanges, path: string): Buffer | undefined {
  const st = ov.base.lstat(path);
  if (!st || (st.mode & S_IFMT) !== S_IFREG) return undefined;
  return ov.base.read(path, 0, Number(st.size));
}

/** A unified diff (git style headers) of one regular-file change; '' for other types. */
export function patchOf(ov: OverlayChanges, change: Change): string {
  if (change.type !== 'file' && change.oldType !== 'file') return '';
  if ((change.size ?? 0) > MAX_PATCH_BYTES || (change.oldSize ?? 0) > MAX_PATCH_BYTES) {
    return `diff --agentfs a${change.path} b${change.path}\nFile too large for a patch (${change.oldSize ?? 0} -> ${change.size ?? 0} bytes)\n`;
  }
  if (change.status === 'M' && change.what && !change.what.includes('content') && !change.what.includes('type')) return '';
  const before = change.status === 'A' ? undefined : baseContent(ov, change.path);
  const after = change.status === 'D' || change.type !== 'file' ? undefined : mergedContent(ov, change.path);
  const header = `diff --agentfs a${change.path} b${change.path}\n`;
  if ((before && isBinary(before)) || (after && isBinary(after))) {
    return `${header}Binary files ${before ? `a${change.path}` : '/dev/null'} and ${after ? `b${change.path}` : '/dev/null'} differ\n`;
  }
  const patch = createTwoFilesPatch(
    before ? `a${change.path}` : '/dev/null',
    after ? `b${change.path}` : '/dev/null',
    before?.toString('utf8') ?? '',
    after?.toString('utf8') ?? '',
    undefined,
    undefined,
    { context: 3 },
  );
  // drop the "Index:"/"====" preamble createTwoFilesPatch adds
  const body = patch.split('\n').filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===')))).join('\n');
  return header + body;
}
