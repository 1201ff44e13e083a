/**
 * Names, keys and messages as the CLI prints them for people. A name may hold anything but `/`
 * and NUL: escape sequences (colour, window title, screen clear), newlines and tabs that make a
 * listing ambiguous, bidi overrides that reorder what is shown. Like GNU ls's shell-escape
 * style, a name that holds any of these (or a `'`) is printed as shell-quoted text that a shell
 * reads back as the same name, `'a'$'\n''b'`; other names are printed as they are. `--json`
 * output stays exact (JSON escapes what it must; see jsonForHuman for the rest).
 */

/** Characters a terminal may act on or that hide/reorder text: C0, DEL, C1, line separators, bidi controls, BOM. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_RUN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+/g;
const NAMED: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r' };

/** The escapes inside $'...' for unsafe characters: \n, \t, ... or the octal UTF-8 bytes (\033). */
function escapeRun(run: string): string {
  let out = '';
  for (const ch of run) {
    out += NAMED[ch] ?? [...Buffer.from(ch, 'utf8')].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  }
  return out;
}

/** A name as GNU `ls --quoting-style=shell-escape` would show it when it needs quoting; else as is. */
export function quoteName(name: string): string {
  if (!UNSAFE.test(name) && !name.includes("'")) return name;
  let out = '';
  let last = 0;
  const plain = (text: string) => {
    if (text) out += text.split("'").map((part) => (part ? `'${part}'` : '')).join("\\'");
  };
  for (const m of name.matchAll(UNSAFE_RUN)) {
    plain(name.slice(last, m.index));
    out += `$'${escapeRun(m[0])}'`;
    last = m.index! + m[0].length;
  }
  plain(name.slice(last));
  return out;
}

/** Free text (an error message) with unsafe characters written as their escapes, on one line. */
export function escapeControls(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_RUN, (run) => escapeRun(run)) : text;
}

/**
 * JSON for a human-facing line (kv list values, kv get): JSON.stringify escapes C0 controls but
 * leaves C1 controls, line separators and bidi overrides raw; write those as \u escapes too
 * (still valid JSON for the same value).
 */
export function jsonForHuman(value: unknown): string {
  const text = JSON.stringify(value);
  return UNSAFE.test(text) ? text.replace(UNSAFE_RUN, (run) => [...run].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')) : text;
}
