/**
 * The CLI against hostile input and faults (issue #10): closed pipes, terminal control
 * characters, numbers JSON cannot hold, huge option values, locked and read-only databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run, runCli, tempDir } from '../support/cli.js';
import { Agent } from '../../src/core/agent.js';

let dir: string;
let cleanup: () => void;
let db: string;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir('agentfs-hostile-'));
  db = join(dir, 'a.db');
  expect((await runCli(['init', db])).code).toBe(0);
});
afterAll(() => cleanup());

const cli = (...args: string[]) => runCli(args, { cwd: dir });
const sh = (script: string) => run('bash', ['-c', script], { cwd: dir });
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('a closed output pipe (item 8)', () => {
  beforeAll(() => {
    // outputs far larger than a pipe buffer, so the reader is gone long before the writer ends
    const agent = Agent.open({ path: db });
    try {
      agent.paths.writeFile('/big', Buffer.alloc(4 << 20, 120));
      agent.paths.mkdir('/d');
      for (let i = 0; i < 3000; i++) {
        agent.paths.writeFile(`/d/file-with-a-longish-name-${i}`, 'x');
        agent.kv.set(`key-${i}`, { i, pad: 'y'.repeat(40) });
      }
      for (let i = 0; i < 1500; i++) agent.tools.success(agent.tools.start('tool', { i }), { ok: true });
    } finally {
      agent.close();
    }
  });

  it.each([
    ['fs cat', ['fs', 'cat', 'DB', '/big']],
    ['fs ls -l', ['fs', 'ls', '-l', 'DB', '/d']],
    ['fs tree', ['fs', 'tree', 'DB', '/']],
    ['fs stat', ['fs', 'stat', 'DB', '/big']],
    ['kv list', ['kv', 'list', 'DB']],
    ['timeline', ['timeline', 'DB', '--limit', '5000']],
  ])('%s into `head -c1` ends quietly, as killed by SIGPIPE', async (_name, argv) => {
    const r = await sh(`set -o pipefail; node ${q(CLI)} ${argv.map((a) => q(a === 'DB' ? db : a)).join(' ')} 2>err | head -c1 >/dev/null; echo "status=$?"; cat err`);
    expect(r.stdout).not.toMatch(/EPIPE|Unhandled|node:events/);
    expect(r.stdout).toMatch(/^status=(0|141)\n$/);
  });

  it('record passes the closed pipe on to its command and still finishes the call', async () => {
    const r = await sh(`set -o pipefail; node ${q(CLI)} record ${q(db)} --name yes -- yes 2>err | head -c1 >/dev/null; echo "status=$?"; cat err`);
    expect(r.stdout).toBe('status=141\n');
    const t = JSON.parse((await cli('timeline', db, '--calls', '--filter', 'yes', '--format', 'json')).stdout) as { status: string; error: string }[];
    expect(t[0]).toMatchObject({ status: 'error', error: expect.stringMatching(/^killed by SIGPIPE/) });
  });
});

describe('numeric options out of range (item 13)', () => {
  it.each([
    ['timeline', '--limit', '99999999999999999999'],
    ['timeline', '--limit', '1e3'],
    ['timeline', '--limit', '-1'],
    ['timeline', '--since', '99999999999999999999'],
    ['timeline', '--until', '99999999999999999999'],
    ['timeline', '--since', '9999999999999d'],
    ['timeline', '--since', '+275760-09-13'],
    ['timeline', '--interval', '99999999999999999999', '--follow'],
    ['record', '--tail', '99999999999999999999', '--', 'true'],
    ['fs', 'tree', '--level', '99999999999999999999'],
  ])('%s %s %s: one clear line naming the option', async (cmd, ...rest) => {
    const argv = cmd === 'fs' ? ['fs', rest[0]!, db, ...rest.slice(1)] : [cmd, db, ...rest];
    const option = argv.find((a) => a.startsWith('--'))!;
    const r = await cli(...argv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^agentfs: ${option} \\S+: `));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/BigInt|datatype mismatch|precision/);
  });

  it('init --chunk-size out of range', async () => {
    const r = await cli('init', join(dir, 'cs.db'), '--chunk-size', '99999999999999999999');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: --chunk-size 99999999999999999999: /);
  });
});

describe('init over a file that is not an agent (item 13)', () => {
  it('says what the file is instead of "agent already exists"', async () => {
    const file = join(dir, 'random.db');
    writeFileSync(file, Buffer.from('not sqlite at all, just some bytes'.repeat(50)));
    const r = await cli('init', file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/agent already exists/);
    expect(r.stderr).toMatch(/random\.db.*not a SQLite database/);
  });
});
