/**
 * JSON with integers written digit for digit: Unix nanoseconds (19 digits) do not fit a double,
 * and JSON.stringify would round them. The number stays a JSON number (jq and Python read it
 * exactly; JavaScript's JSON.parse rounds it as before).
 */
import { randomUUID } from 'node:crypto';

// no string a user stored can carry it: a fresh nonce a process
const MARK = `exact-${randomUUID()}:`;
const MARKED = new RegExp(`"${MARK}(-?[0-9]+)"`, 'g');

/** An integer JSON.stringify writes as these digits (through stringifyExact). */
export class ExactInteger {
  constructor(readonly digits: string) {}
  toJSON(): string {
    return MARK + this.digits;
  }
}

/** JSON.stringify, with every ExactInteger in value written as its digits. */
export function stringifyExact(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(MARKED, '$1');
}
