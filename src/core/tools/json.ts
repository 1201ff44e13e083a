/**
 * JSON text for a column; values JSON cannot hold are kept as their string form, never dropped.
 * A value nested too deeply to write (a stack overflow in JSON.stringify) is recorded as a note
 * saying so: the call itself is still recorded.
 */
export function toJson(value: unknown): string | null {
  if (value === undefined) return null;
  try {
    // plain first: a replacer costs every key a call (2.5x the time), and only a bigint needs it
    // (JSON.stringify throws on one; the replacer below writes it as its digits)
    const text = JSON.stringify(value);
    return text === undefined ? JSON.stringify(String(value)) : text;
  } catch (e) {
    if (e instanceof RangeError) return JSON.stringify(TOO_DEEP);
  }
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return text === undefined ? JSON.stringify(String(value)) : text;
  } catch (e) {
    if (e instanceof RangeError) return JSON.stringify(TOO_DEEP);
    try {
      return JSON.stringify(String(value));
    } catch {
      return JSON.stringify(TOO_DEEP);
    }
  }
}

const TOO_DEEP = '[not recorded: nested too deeply to write as JSON]';

/** The value of a column's JSON text; the text itself when someone else wrote plain text. */
export function fromJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The error column holds text, as agentfs-sdk writes it. */
export function errorText(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message || err.name;
  if (err === undefined || err === null) return 'error';
  return toJson(err) ?? String(err);
}
