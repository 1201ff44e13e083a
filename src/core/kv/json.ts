/**
 * kv values are JSON text, and JavaScript reads JSON numbers as doubles: `1e999` became `null`,
 * `123456789012345678901234567890` lost digits and `-0` became `0`, all silently. These checks
 * refuse such values, naming the number, so nothing is changed behind the user's back; and they
 * bound nesting, which JSON.stringify would otherwise meet as a stack overflow.
 */
import { isError, isStackOverflow, oneLine, thrownMessage } from '../thrown.js';
import { KvError } from './errors.js';

/** Deepest nesting of arrays and objects a kv value may have. */
export const MAX_JSON_DEPTH = 1000;

const HINT = 'store it as a string instead (CLI: --string)';

/**
 * Checks valid JSON text (JSON.parse accepted it) for numbers a double cannot hold exactly and
 * for nesting deeper than MAX_JSON_DEPTH. Throws KvError EINVAL naming what it found.
 */
export function checkJsonText(text: string): void {
  scan(text, true);
}

/** One pass over valid JSON text: nesting depth, and each number literal when numbers is set. */
function scan(text: string, numbers: boolean): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > MAX_JSON_DEPTH) throw new KvError('EINVAL', `value nests deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (numbers && (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39))) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(text)![0];
      checkNumber(literal);
      i += literal.length - 1;
    }
  }
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function checkNumber(literal: string): void {
  const n = Number(literal);
  if (!Number.isFinite(n)) {
    throw new KvError('EINVAL', `number ${literal} is out of range for a JSON number here (at most ±${Number.MAX_VALUE}); ${HINT}`);
  }
  const want = decimal(literal);
  if (want === '-0') throw new KvError('EINVAL', `number ${literal}: -0 would read back as 0; give 0, or ${HINT}`);
  const got = decimal(String(n));
  if (want !== got && !(want === '0' && got === '0')) {
    throw new KvError('EINVAL', `number ${literal} cannot be stored exactly (it would read back as ${String(n)}); ${HINT}`);
  }
}

/** A decimal literal in one canonical form: sign, significant digits, exponent ('0' or '-0' for zero). */
function decimal(literal: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return literal;
  const frac = m[3] ?? '';
  let digits = (m[2]! + frac).replace(/^0+/, '');
  let exp = Number(m[4] ?? 0) - frac.length;
  if (!digits) return `${m[1]}0`;
  const trimmed = digits.replace(/0+$/, '');
  exp += digits.length - trimmed.length;
  digits = trimmed;
  return `${m[1]}${digits}e${exp}`;
}

/**
 * JSON text for a value from code (SDK, MCP): refuses NaN and ±Infinity, which JSON.stringify
 * would turn into null, and over-deep nesting, instead of a stack overflow.
 */
export function stringifyValue(key: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new KvError('EINVAL', `value for kv key '${key}' holds ${v}, not a finite number (JSON has no such number)`);
      }
      return v;
    });
  } catch (e) {
    if (isError(e) && e instanceof KvError) throw e; // isError first: instanceof throws for a revoked Proxy
    if (isStackOverflow(e)) throw new KvError('EINVAL', `value for kv key '${key}' nests deeper than ${MAX_JSON_DEPTH} levels`);
    throw new KvError('EINVAL', `value for kv key '${key}' is not JSON-serialisable: ${oneLine(thrownMessage(e))}`);
  }
  if (text === undefined) throw new KvError('EINVAL', `value for kv key '${key}' is not JSON-serialisable (${typeof value})`);
  // a stringify that did not overflow can still nest deeper than a reader can take
  if (text.length > 2 * MAX_JSON_DEPTH) {
    try {
      scan(text, false);
    } catch (e) {
      throw new KvError('EINVAL', `value for kv key '${key}' ${(e as Error).message.replace(/^value /, '')}`);
    }
  }
  return text;
}
