import { describe, expect, it } from 'vitest';
import { redact, withoutToken, hideSecrets } from '../../src/sync/remote.js';
import { fileRemotePath, normalizeFileUrl } from '../../src/sync/file-remote.js';
import { idOfOversized } from '../../src/mcp/line-transport.js';

describe('secrets in URLs', () => {
  it('redact hides every authToken parameter and a password', () => {
    expect(redact('libsql://db.turso.io?authToken=abc')).toBe('libsql://db.turso.io?authToken=***');
    expect(redact('http://h/?a=1&AUTHTOKEN=abc&b=2&authToken=def#x')).toBe('http://h/?a=1&AUTHTOKEN=***&b=2&authToken=***#x');
    expect(redact('http://me:pw@host:8080/p')).toBe('http://me:***@host:8080/p');
    expect(redact('http://host:8080/p')).toBe('http://host:8080/p');
  });

  it('withoutToken drops the parameter and nothing else', () => {
    expect(withoutToken('http://h/?authToken=x')).toBe('http://h/');
    expect(withoutToken('http://h/?a=1&authToken=x&b=2')).toBe('http://h/?a=1&b=2');
    expect(withoutToken('http://h/?authToken=x&b=2')).toBe('http://h/?b=2');
    expect(withoutToken('libsql://h:8080?tls=0&authToken=x')).toBe('libsql://h:8080?tls=0');
    expect(withoutToken('libsql://h:8080?tls=0')).toBe('libsql://h:8080?tls=0');
  });

  it('hideSecrets replaces every occurrence', () => {
    expect(hideSecrets('Bearer tok1 and tok1', ['tok1', undefined])).toBe('Bearer *** and ***');
  });
});

describe('file: remote URLs', () => {
  it('resolve to absolute paths, %-decoded', () => {
    expect(fileRemotePath('file:///a/b%20c.db')).toBe('/a/b c.db');
    expect(fileRemotePath('file:/a/b.db')).toBe('/a/b.db');
    expect(fileRemotePath('file://localhost/a/b.db')).toBe('/a/b.db');
    expect(fileRemotePath('file:rel.db')).toBe(`${process.cwd()}/rel.db`);
    expect(normalizeFileUrl('file:/a/b c.db')).toBe('file:///a/b%20c.db');
    expect(() => fileRemotePath('file::memory:')).toThrow(/in-memory/);
    expect(() => fileRemotePath('file://host/a.db')).toThrow(/host/);
    expect(() => fileRemotePath('file:/a.db?mode=ro')).toThrow(/query/);
  });
});

describe('the id of an oversized MCP line', () => {
  it('is found first or last at the top level, never inside params', () => {
    expect(idOfOversized('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"x":"yyyy', 'yyy"}}')).toBe(7);
    expect(idOfOversized('{"id":"a\\"b","params":{', '}}')).toBe('a"b');
    expect(idOfOversized('{"method":"tools/call","params":{"content":"yyyy', 'yyy"},"id":-3}')).toBe(-3);
    expect(idOfOversized('{"method":"tools/call","params":{"content":"yyyy', 'yyy","id":3}}')).toBeNull();
    expect(idOfOversized('{"params":{"id":3,"content":"yyyy', 'yyy"}}')).toBeNull();
    expect(idOfOversized('xxxx', 'xxxx')).toBeNull();
  });
});
