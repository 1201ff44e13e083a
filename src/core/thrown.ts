/**
 * What a thrown value (or a value with no text of its own) says, for one-line errors and records:
 * code outside ours may throw anything (a string, null, an object whose toString throws), and a
 * RangeError from JSON.stringify is a stack overflow, a string too long, or a toJSON's own.
 */

/** JSON.stringify ran out of stack: a value nested too deeply. */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/** A string longer than the engine can make (JSON text of a huge value). */
export function isTooLong(e: unknown): boolean {
  return e instanceof RangeError && /string length/i.test(e.message);
}

/** A value's text; for one whose conversion throws (no prototype, a throwing toString), its tag. */
export function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return `[${typeof value}]`; // a revoked Proxy
    }
  }
}

/** The message of anything thrown. */
export function thrownMessage(e: unknown): string {
  return e instanceof Error ? e.message : textOf(e);
}
