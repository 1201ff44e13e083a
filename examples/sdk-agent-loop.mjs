// An SDK agent loop whose tool calls are recorded with `tools.wrap`: every call of a wrapped tool
// becomes a row of tool_calls (arguments, result or error, timing), calls made inside another
// are nested under it (parent_id), and the file changes each makes are journaled under its id.
// The "model" is a scripted policy so the example runs offline; swap in your LLM's tool choice.
// Run from a clone after the set-up (npm run setup): node examples/sdk-agent-loop.mjs
// or from an install: node "$(npm root -g)/agentfs/examples/sdk-agent-loop.mjs"
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentFS } from '../dist/index.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'agentfs.js');
const work = mkdtempSync(join(tmpdir(), 'agentfs-sdk-loop-'));
const dbPath = join(work, 'loop-agent.db');
const agent = await AgentFS.open({ path: dbPath });

// --- the tools the model may call, each wrapped so it is recorded
const tools = {
  list_files: agent.tools.wrap('list_files', async ({ dir }) => agent.fs.readdir(dir)),
  read_file: agent.tools.wrap('read_file', async ({ path }) => agent.fs.readFile(path, 'utf8')),
  write_file: agent.tools.wrap('write_file', async ({ path, content }) => {
    await agent.fs.writeFile(path, content);
    return { path, bytes: Buffer.byteLength(content) };
  }),
  run_tests: agent.tools.wrap('run_tests', async () => {
    const src = await agent.fs.readFile('/src/math.js', 'utf8');
    const mod = await import(`data:text/javascript,${encodeURIComponent(src)}`);
    const failures = [[2, 3, 5], [0, 0, 0], [-1, 1, 0]].filter(([a, b, want]) => mod.add(a, b) !== want);
    if (failures.length) throw new Error(`${failures.length} test(s) failed: add(${failures[0].slice(0, 2)}) != ${failures[0][2]}`);
    await agent.fs.writeFile('/reports/tests.txt', 'all 3 tests passed\n');
    return { passed: 3 };
  }),
};

// --- a scripted "model": each turn picks tool calls from what it has seen so far
const memory = [];
function model(turn) {
  switch (turn) {
    case 0: return [['write_file', { path: '/src/math.js', content: 'export function add(a, b) { return a - b; }\n' }]];
    case 1: return [['run_tests', {}]];
    case 2: return [['read_file', { path: '/src/math.js' }]];
    case 3: return [['write_file', { path: '/src/math.js', content: 'export function add(a, b) { return a + b; }\n' }]];
    case 4: return [['run_tests', {}], ['list_files', { dir: '/reports' }]];
    default: return [];
  }
}

await agent.fs.mkdir('/src');
await agent.fs.mkdir('/reports');
await agent.kv.set('task', { goal: 'make the add() tests pass', started: new Date().toISOString() });

// one wrapped "turn" per step of the loop: the tool calls of a turn nest under it
const turn = agent.tools.wrap('agent_turn', async (n) => {
  const outcomes = [];
  for (const [name, args] of model(n)) {
    try {
      outcomes.push({ name, ok: true, value: await tools[name](args) });
    } catch (e) {
      outcomes.push({ name, ok: false, error: e.message }); // the model sees the error and reacts
    }
  }
  memory.push(...outcomes);
  return outcomes.map((o) => `${o.name}:${o.ok ? 'ok' : 'error'}`);
});

for (let n = 0; model(n).length; n++) console.log(`turn ${n}:`, (await turn(n)).join(', '));
await agent.kv.set('task', { ...(await agent.kv.get('task')), done: true });

// --- what was recorded
console.log('\nrecorded calls (oldest first):');
for (const c of (await agent.tools.list({ order: 'asc' })).filter((c) => c.name !== 'agent_turn')) {
  console.log(`  #${c.id} ${c.name.padEnd(10)} ${c.status.padEnd(7)} ${String(c.duration_ms).padStart(3)}ms  in turn #${c.parent_id}  ${c.error ?? ''}`);
}
console.log('\nstats:');
for (const s of await agent.tools.getStats()) console.log(`  ${s.name.padEnd(10)} calls ${s.total_calls}, failed ${s.failed}, avg ${s.avg_duration_ms.toFixed(1)}ms, p95 ${s.p95_duration_ms}ms`);
await agent.close();

console.log('\n$ agentfs timeline loop-agent.db --filter write_file   (the file changes each write made)');
process.stdout.write(execFileSync(process.execPath, [cli, 'timeline', dbPath, '--filter', 'write_file'], { encoding: 'utf8' }));
console.log('\n$ agentfs timeline loop-agent.db --status error');
process.stdout.write(execFileSync(process.execPath, [cli, 'timeline', dbPath, '--status', 'error', '--format', 'json'], { encoding: 'utf8' }));
rmSync(work, { recursive: true, force: true });
