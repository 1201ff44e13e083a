import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import type { TimelineEvent as Ev } from '../support/timeline-event.js';

// `agentfs run` serves the session's overlay in its own process and records the run as a tool
// call there: the journal files the sandboxed command's changes under that call's id.
let tmp: { dir: string; cleanup: () => void };
let proj: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  tmp = tempDir('agentfs-tlrun-');
  proj = join(tmp.dir, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, 'VERSION'), 'v1\n');
  writeFileSync(join(proj, 'old.txt'), 'old\n');
  env = { AGENTFS_HOME: join(tmp.dir, 'home'), TZ: 'UTC' };
});
afterAll(() => tmp.cleanup());


describe('timeline of an agentfs run', () => {
  it('shows the run, then its file changes in order, under its id', async () => {
    const r = await runCli(['run', '--session', 'tl', '--', 'sh', '-c', 'printf "v2\\n" > VERSION && mkdir out && echo x > out/a && mv out/a out/b && rm old.txt'], {
      cwd: proj,
      env,
    });
    if (r.code !== 0) throw new Error(`agentfs run failed (${r.code}): ${r.stderr}`);
    expect(readFileSync(join(proj, 'VERSION'), 'utf8')).toBe('v1\n'); // the host is untouched
    const tl = await runCli(['timeline', 'tl', '--format', 'json'], { cwd: proj, env });
    expect(tl.code).toBe(0);
    const events = (JSON.parse(tl.stdout) as Ev[]).reverse();
    const runCall = events.find((e) => e.name !== undefined)!;
    expect(runCall.status).toBe('success');
    const mine = events.filter((e) => e.type === 'file' && e.tool_call_id === runCall.id);
    expect(events.indexOf(mine[0]!)).toBeGreaterThan(events.indexOf(runCall));
    const brief = mine.map((e) => `${e.op} ${e.path}${e.new_path ? ` ${e.new_path}` : ''}`);
    // VERSION is a base file: its copy-up into the session is no change of the agent's (it was
    // journaled as a create, a write of the old content, chmod, chown and times), only the write is
    expect(brief).toEqual(['truncate /VERSION', 'write /VERSION', 'mkdir /out', 'create /out/a', 'write /out/a', 'rename /out/a /out/b', 'unlink /old.txt']);
  });

  it('journals a base directory moved as a rename, and nothing of the session set-up', async () => {
    const base = join(tmp.dir, 'movebase');
    mkdirSync(join(base, 'src/lib'), { recursive: true });
    writeFileSync(join(base, 'src/lib/a.js'), 'a\n');
    const r = await runCli(['run', '--session', 'mv', '--', 'sh', '-c', 'mv src app && echo b >> app/lib/a.js'], { cwd: base, env });
    if (r.code !== 0) throw new Error(`agentfs run failed (${r.code}): ${r.stderr}`);
    const tl = await runCli(['timeline', 'mv', '--format', 'json'], { cwd: base, env });
    expect(tl.code).toBe(0);
    const files = (JSON.parse(tl.stdout) as Ev[]).reverse().filter((e) => e.type === 'file');
    // it was a mkdir of /app with the base directory's attributes (chmod, chown, times), after
    // the root's own attributes adopted from the base: no sign of /src going
    expect(files.map((e) => `${e.op} ${e.path}${e.new_path ? ` ${e.new_path}` : ''}`)).toEqual(['rename /src /app', 'write /app/lib/a.js']);
  });

  it('a commit adds nothing to the timeline (the base takes the changes; the session shows the same)', async () => {
    const base = join(tmp.dir, 'commitbase');
    mkdirSync(join(base, 'src'), { recursive: true });
    writeFileSync(join(base, 'f.txt'), 'base\n');
    writeFileSync(join(base, 'src/x'), 'x\n');
    const r = await runCli(['run', '--session', 'cm', '--', 'sh', '-c', 'echo more >> f.txt && rm src/x && mkdir out && echo new > out/n.txt'], { cwd: base, env });
    if (r.code !== 0) throw new Error(`agentfs run failed (${r.code}): ${r.stderr}`);
    const events = async () => {
      const tl = await runCli(['timeline', 'cm', '--format', 'json'], { cwd: base, env });
      expect(tl.code).toBe(0);
      return (JSON.parse(tl.stdout) as Ev[]).reverse().filter((e) => e.type === 'file').map((e) => `${e.op} ${e.path}`);
    };
    const before = await events();
    expect(before).toEqual(['write /f.txt', 'unlink /src/x', 'mkdir /out', 'create /out/n.txt', 'write /out/n.txt']);
    const c = await runCli(['commit', 'cm'], { cwd: base, env });
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(join(base, 'out/n.txt'), 'utf8')).toBe('new\n');
    // the session let go of its copies (unlink /f.txt, /out/n.txt, rmdir /out were journaled)
    expect(await events()).toEqual(before);
  });

  it('records each run as a call with argv and cwd, success or error by exit status', async () => {
    const failed = await runCli(['run', '--session', 'tl', '--', 'sh', '-c', 'exit 3'], { cwd: proj, env });
    expect(failed.code).toBe(3);
    const tl = await runCli(['timeline', 'tl', '--calls', '--format', 'json'], { cwd: proj, env });
    const calls = JSON.parse(tl.stdout) as Ev[]; // newest first
    expect(calls.map((c) => `${c.name} ${c.status}`)).toEqual(['agentfs run error', 'agentfs run success']);
    expect(calls[0]!.parameters).toMatchObject({ argv: ['sh', '-c', 'exit 3'], cwd: proj });
    expect(calls[0]!.error).toBe('exited with code 3');
    expect(calls[1]!.result).toMatchObject({ exit_code: 0, signal: null });
  });
});
