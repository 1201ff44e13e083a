/**
 * What a thrown value (or a value with no text of its own) says, for one-line errors and records.
 * Code outside ours may throw anything: a string, null, an object whose toString throws, a revoked
 * Proxy, an Error whose message is not text or whose getters throw. None of these functions throw
 * in turn: an error about an error must not replace the caller's own.
 */

/** `e instanceof cls`, false where asking throws (a Proxy's getPrototypeOf). */
function isA(e: unknown, cls: abstract new (...args: never[]) => unknown): boolean {
  try {
    return e instanceof cls;
  } catch {
    return false;
  }
}

/** An Error (false for a value whose prototype cannot be asked for). */
export function isError(e: unknown): e is Error {
  return isA(e, Error);
}

/** A property read that cannot throw: undefined where the read does. */
function read(o: unknown, key: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** JSON.stringify ran out of stack: a value nested too deeply (or a toJSON recursing). */
export function isStackOverflow(e: unknown): boolean {
  return isA(e, RangeError) && /call stack/i.test(textOf(read(e, 'message')));
}

/** A string longer than the engine can make (JSON text of a huge value). */
export function isTooLong(e: unknown): boolean {
  return isA(e, RangeError) && /string length/i.test(textOf(read(e, 'message')));
}

/**
 * A value's text; for one whose conversion throws (no prototype, a throwing toString, a revoked
 * Proxy), its tag. An array is only tagged: its text would read every element again (getters, a
 * Proxy's traps) after the JSON pass that failed.
 */
export function textOf(value: unknown): string {
  try {
    if (Array.isArray(value)) return Object.prototype.toString.call(value);
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return `[${typeof value}]`; // a revoked Proxy
    }
  }
}

/** The message of anything thrown: an Error's message (its name when empty), else its text. */
export function thrownMessage(e: unknown): string {
  if (!isError(e)) return textOf(e);
  const message = read(e, 'message');
  const text = typeof message === 'string' ? message : message === undefined ? '' : textOf(message);
  if (text) return text;
  const name = read(e, 'name');
  return (typeof name === 'string' ? name : name === undefined ? '' : textOf(name)) || 'Error';
}

/** Text made one line (V8's messages span several: a cycle's path, a stack). */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
