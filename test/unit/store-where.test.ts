import { describe, expect, it } from 'vitest';
import { Where } from '../../src/store/index.js';

describe('Where', () => {
  it('is empty without terms, and skips filters not given', () => {
    const w = new Where().when('a = ?', undefined);
    expect(String(w)).toBe('');
    expect(w.args).toEqual([]);
  });

  it('joins terms with AND and keeps arguments in the order of their ?', () => {
    const w = new Where().when('a = ?', 1).when('b = ?', undefined).add('c IN (?, ?)', 'x', 'y').when('d > ?', 0);
    expect(`${w}`).toBe('WHERE a = ? AND c IN (?, ?) AND d > ?');
    expect(w.args).toEqual([1, 'x', 'y', 0]);
  });
});
