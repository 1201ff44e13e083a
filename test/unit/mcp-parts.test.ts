/** The pieces of the MCP server, in-process: path normalisation, audit values, tool selection, the recorder. */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { FsError } from '../../src/core/errors.js';
import { agentPath } from '../../src/mcp/paths.js';
import { AUDIT_STRING_MAX, CallRecorder, auditValue } from '../../src/mcp/recorder.js';
import { MCP_TOOL_NAMES, selectTools } from '../../src/mcp/tools.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function agent(): Agent {
  const t = tempDir();
  const a = Agent.open({ path: join(t.dir, 'a.db') }, { create: true });
  cleanups.push(t.cleanup, () => a.close());
  return a;
}

describe('agentPath', () => {
  it('makes every path absolute inside the agent root, resolving .. lexically and never above /', () => {
    expect(agentPath('/a/b.txt')).toBe('/a/b.txt');
    expect(agentPath('a/b.txt')).toBe('/a/b.txt');
    expect(agentPath('../../etc/passwd')).toBe('/etc/passwd');
    expect(agentPath('/x/../../..')).toBe('/');
    expect(agentPath('/a/./b//c')).toBe('/a/b/c');
    // a trailing / or /. keeps saying "a directory" (ENOTDIR for a file)
    expect(agentPath('/a/./b//c/')).toBe('/a/b/c/');
    expect(agentPath('/a/b/.')).toBe('/a/b/');
    expect(agentPath('')).toBe('/');
    // a host path is just a path inside the agent; process.cwd() is never consulted
    expect(agentPath(process.cwd())).toBe(process.cwd());
    expect(agentPath('.')).toBe('/');
  });

  it('refuses NUL bytes with EINVAL', () => {
    expect(() => agentPath('/ok\0/etc/passwd', 'read_file')).toThrow(FsError);
    try {
      agentPath('a\0b', 'read_file');
    } catch (e) {
      expect((e as FsError).code).toBe('EINVAL');
      expect((e as FsError).message).toMatch(/NUL byte, read_file/);
    }
  });
});

describe('auditValue', () => {
  it('keeps short values as they are and summarises long strings anywhere in the value', () => {
    const v = { path: '/f', n: 1, ok: true, nil: null, list: ['a', 'b'] };
    expect(auditValue(v)).toEqual(v);
    const edge = 'e'.repeat(AUDIT_STRING_MAX);
    expect(auditValue(edge)).toBe(edge);
    const long = 'l'.repeat(AUDIT_STRING_MAX + 1);
    const out = auditValue({ content: long, nested: [{ deep: long }] }) as { content: string; nested: { deep: string }[] };
    expect(out.content).toMatch(new RegExp(`^\\[${AUDIT_STRING_MAX + 1} characters, sha256 [0-9a-f]{64}, not recorded\\]$`));
    expect(out.nested[0]!.deep).toBe(out.content);
  });

  it('keeps a "__proto__" key as a key', () => {
    const v = JSON.parse('{"__proto__": {"x": 1}, "y": [{"__proto__": 2}]}') as Record<string, unknown>;
    const out = auditValue(v) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['__proto__', 'y']);
    expect(JSON.stringify(out)).toBe(JSON.stringify(v));
  });
});

describe('selectTools', () => {
  it('selects in reference order and names unknown tools', () => {
    expect(selectTools().map((t) => t.name)).toEqual(MCP_TOOL_NAMES);
    expect(selectTools(['stat', 'read_file']).map((t) => t.name)).toEqual(['read_file', 'stat']);
    expect(() => selectTools(['stat', 'rmrf', 'x'])).toThrow(/unknown tools 'rmrf', 'x' \(available: read_file,/);
    expect(() => selectTools([])).toThrow(/no tools selected/);
  });
});

describe('CallRecorder', () => {
  it('records success with the result and makes the call current while the body runs', () => {
    const a = agent();
    const rec = new CallRecorder(a.tools);
    let inside: number | undefined;
    const out = rec.run('write_file', { path: '/f' }, () => {
      inside = a.tools.current();
      a.paths.writeFile('/f', 'x');
      return { path: '/f', bytes: 1 };
    });
    expect(out).toEqual({ path: '/f', bytes: 1 });
    const [call] = a.tools.list();
    expect(call).toMatchObject({ id: inside, name: 'write_file', status: 'success', parameters: { path: '/f' }, result: out });
    expect(a.tools.current()).toBeUndefined();
  });

  it('records failures with the errno code and rethrows them', () => {
    const a = agent();
    const rec = new CallRecorder(a.tools);
    expect(() => rec.run('read_file', { path: '/missing' }, () => a.paths.readFile('/missing'))).toThrow(/ENOENT/);
    expect(() => rec.run('kv_get', { key: '' }, () => a.kv.get(''))).toThrow(/non-empty/);
    const [kv, rd] = a.tools.list();
    expect(rd).toMatchObject({ name: 'read_file', status: 'error' });
    expect(rd!.error).toMatch(/^ENOENT: no such file or directory/);
    expect(kv!.error).toMatch(/^EINVAL: kv key must be a non-empty string/);
  });

  it('does not run the body when the call cannot be recorded', () => {
    const a = agent();
    const rec = new CallRecorder(a.tools);
    let ran = false;
    expect(() =>
      rec.run('', {}, () => {
        ran = true;
      }),
    ).toThrow(/non-empty name/);
    expect(ran).toBe(false);
  });
});
