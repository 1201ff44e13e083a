/**
 * One parser for every integer option, so `--limit 99999999999999999999` or `--tail 1e3` is
 * refused with the option's name and range instead of reaching SQLite ("datatype mismatch") or
 * BigInt ("Loss of precision").
 */
import { UserError } from './errors.js';

export interface IntRange {
  /** default 0 */
  min?: number;
  /** default Number.MAX_SAFE_INTEGER */
  max?: number;
}

/** Decimal digits only (no sign, exponent, fraction or hex), within [min, max]. */
export function parseIntOption(option: string, text: string, range: IntRange = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const t = text.trim();
  const n = /^\d{1,16}$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UserError(`${option} ${text}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

/** The same for an option that may be absent. */
export function parseOptionalInt(option: string, text: string | undefined, range: IntRange = {}): number | undefined {
  return text === undefined ? undefined : parseIntOption(option, text, range);
}
