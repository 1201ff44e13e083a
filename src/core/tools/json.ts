import { isError, isStackOverflow, isTooLong, textOf, thrownMessage } from '../thrown.js';

/**
 * JSON text for a column, by JSON's rules (inside an object or array, a function or undefined is
 * left out and NaN written null); a value JSON cannot hold at all (a function, a symbol, a cycle,
 * a throwing toJSON) is kept as its text, never dropped. A value nested too deeply (a stack
 * overflow in JSON.stringify) or too long to write is recorded as a note saying so: the call
 * itself is still recorded. One pass over the value: a toJSON or a getter runs once, as the
 * caller's code expects.
 */
export function toJson(value: unknown): string | null {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    if (text !== undefined) return text;
  } catch (e) {
    if (isStackOverflow(e)) return JSON.stringify(TOO_DEEP);
    if (isTooLong(e)) return JSON.stringify(TOO_LONG);
  }
  // what JSON cannot hold (a function, a symbol, a cycle, a throwing toJSON): its string form
  try {
    return JSON.stringify(textOf(value));
  } catch {
    return JSON.stringify(TOO_LONG); // only a string's length stops JSON.stringify of a string
  }
}

const TOO_DEEP = '[not recorded: nested too deeply to write as JSON]';
const TOO_LONG = '[not recorded: too long to write as JSON]';

/** The value of a column's JSON text; the text itself when someone else wrote plain text. */
export function fromJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The error column holds text, as agentfs-sdk writes it: a string as given, an Error's message
 * (its name when empty), a primitive's text, an object's JSON. Never throws, whatever was thrown.
 */
export function errorText(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err === undefined || err === null) return 'error';
  if (typeof err !== 'object' && typeof err !== 'function') return textOf(err);
  if (isError(err)) return thrownMessage(err);
  return toJson(err) ?? textOf(err);
}
