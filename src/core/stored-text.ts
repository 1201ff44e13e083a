import { isUtf8 } from 'node:buffer';

/**
 * Text columns another program may have filled with bytes that are not UTF-8 (sqlite3 writes
 * whatever it is given). libsql aborts the whole process (a Rust panic) when it reads such a value
 * as TEXT, so the queries that hand names, keys and targets back read them `CAST(... AS BLOB)` and
 * decode here: null when the bytes are not UTF-8, for the caller to refuse with EILSEQ.
 */
export function storedText(stored: unknown): string | null {
  let value = stored;
  if (typeof value === 'string') return value;
  // libsql hands blobs back as Buffers from get() and as ArrayBuffers from iterate()
  if (value instanceof ArrayBuffer) value = new Uint8Array(value);
  if (value instanceof Uint8Array) {
    if (!isUtf8(value)) return null;
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  }
  return value === null || value === undefined ? null : String(value);
}
