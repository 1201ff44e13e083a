import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT, run, tempDir } from '../support/cli.js';

// The examples are documentation users copy from: each must run to the end on this build and
// show what its comments promise.
const example = (name: string) => join(ROOT, 'examples', name);

async function runExample(cmd: string, file: string) {
  const { dir, cleanup } = tempDir();
  try {
    const r = await run(cmd, [example(file)], { cwd: dir, timeoutMs: 110_000 });
    if (r.code !== 0) throw new Error(`${file} exited ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  } finally {
    cleanup();
  }
}

describe('examples/', () => {
  it('record-agent-run.sh: recorded commands with their file changes, and a sandboxed run', async () => {
    const out = await runExample('bash', 'record-agent-run.sh');
    expect(out).toMatch(/^\d+\s+lint\s+error\s/m);
    expect(out).toMatch(/^\d+\s+fs:create\s.*\/src\/hello\.c$/m);
    expect(out).toMatch(/^\d+\s+agentfs run\s+success\s/m);
    expect(out).toContain('host VERSION is still: v1');
  });

  it('audit-session.sh: timeline, failures, stats, diff and SQL over a session', async () => {
    const out = await runExample('bash', 'audit-session.sh');
    expect(out).toMatch(/== Only failed calls\n.*\nID\s+TOOL\s+STATUS\s+DURATION\s+STARTED\n\d+\s+run_tests\s+error/);
    expect(out).toMatch(/^D file\s+NOTES\.txt$/m);
    expect(out).toMatch(/^M file\s+calc\.py$/m);
    expect(out).toContain('== SQL over the database');
  });

  it('mount-agent-state.sh: SDK state edited through a mount with shell tools and git', async () => {
    const out = await runExample('bash', 'mount-agent-state.sh');
    expect(out).toContain('/state/notes/sources.md:2:- RFC 9110 (HTTP semantics)');
    expect(out).toMatch(/The agent reads your edit back.*\n1\. \[done\] read the RFCs\n/);
    expect(out).toContain('git metadata kept in the agent too: true');
    expect(out).toContain('progress: {"step":1,"of":2}');
  });

  it('sdk-agent-loop.mjs: tools.wrap records every call, nested, with its file changes', async () => {
    const out = await runExample(process.execPath, 'sdk-agent-loop.mjs');
    expect(out).toMatch(/run_tests\s+calls 2, failed 1/);
    expect(out).toMatch(/^\d+\s+fs:write\s.*\/src\/math\.js/m);
    expect(out).toContain('"parent_id"');
  });
});
