import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script, without type declarations
import { generate, readTable, ROOT } from '../../scripts/gen-requests.mjs';
import { decodeRequest, Op } from '../../src/fuse/requests.js';

/**
 * The FUSE request format has one definition, native/requests.json; both the addon's header and
 * the TypeScript decoder are generated from it and checked in. These tests are the guard that
 * the checked-in sides match the table (and so each other).
 */
type Table = { requests: { op: string; args: { name: string; type: string }[] }[] };
const table = readTable() as Table;
const gen = generate as (t: unknown) => Record<string, string>;

describe('native request format', () => {
  it('the checked-in generated files are what the table generates (run node scripts/gen-requests.mjs)', () => {
    const files = gen(table);
    expect(Object.keys(files).sort()).toEqual(['native/requests.h', 'src/fuse/requests.ts']);
    for (const [path, text] of Object.entries(files)) {
      expect(readFileSync(join(ROOT as string, path), 'utf8'), `${path} is stale`).toBe(text);
    }
  });

  it('decodes every request into fields named after the table, in the wire order', () => {
    table.requests.forEach((r, num) => {
      expect(Op[r.op as keyof typeof Op]).toBe(num);
      const raw: unknown[] = [num, 7, 1000, 1001, 42];
      const want: Record<string, unknown> = { op: num, id: 7, uid: 1000, gid: 1001, pid: 42 };
      r.args.forEach((a, i) => {
        const v = a.type === 'string' ? `s${i}` : a.type === 'bytes' ? Buffer.from([i]) : a.type === 'bool' ? i % 2 === 0 : 100 + i;
        raw.push(v);
        want[a.name] = v;
      });
      expect(decodeRequest(raw)).toEqual(want);
    });
  });

  it('the addon packs every request of the table', () => {
    const addon = readFileSync(join(ROOT as string, 'native/fuse_session.cc'), 'utf8');
    for (const r of table.requests) expect(addon, `pack_${r.op.toLowerCase()} unused`).toContain(`pack_${r.op.toLowerCase()}(`);
  });

  it('an unknown request kind is refused with a message, not decoded into garbage', () => {
    expect(() => decodeRequest([table.requests.length, 0, 0, 0, 0])).toThrow(/unknown FUSE request kind/);
    // the decoders are a table indexed by kind: no other value may pick one (or a property of the array)
    for (const kind of [-1, 1.5, NaN, Infinity, '3', 'length', 'constructor', undefined, null]) {
      expect(() => decodeRequest([kind, 0, 0, 0, 0]), String(kind)).toThrow(/unknown FUSE request kind/);
    }
  });

  it('a table with a mistake is refused with the request and argument named', () => {
    const bad = (change: (t: Table) => void) => {
      const t = structuredClone(table);
      change(t);
      return () => gen(t);
    };
    expect(bad((t) => t.requests.push({ op: 'LOOKUP', args: [] }))).toThrow(/LOOKUP is defined twice/);
    expect(bad((t) => t.requests[2]!.args.push({ name: 'size', type: 'float' }))).toThrow(/"size" has unknown type "float"/);
    expect(bad((t) => t.requests[2]!.args.push({ name: 'uid', type: 'int' }))).toThrow(/"uid" is a header field/);
    expect(bad((t) => t.requests[2]!.args.push({ name: 'name', type: 'string' }))).toThrow(/"name" is defined twice/);
  });
});
