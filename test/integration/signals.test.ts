/**
 * The one signal helper (src/platform/signals.ts) in real processes with real signals: a graceful
 * stop runs once and leaves a second signal its default effect, or ignores it while stopping; a
 * forwarded signal reaches the child (even one that came before the spawn), one that is not
 * passed on is still caught.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const SIGNALS = pathToFileURL(join(ROOT, 'dist', 'platform', 'signals.js')).href;
const started: ChildProcess[] = [];

interface Proc {
  child: ChildProcess;
  /** resolves when a line of stdout matches */
  line(pattern: RegExp): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>;
}

/** Runs an ES module script that imports the helper as `S`. */
function script(body: string): Proc {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import * as S from ${JSON.stringify(SIGNALS)};\n${body}`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  started.push(child);
  let out = '';
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const hit = out.split('\n').find((l) => w.pattern.test(l));
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout: out })),
  );
  return {
    child,
    exit,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const hit = out.split('\n').find((l) => pattern.test(l));
        if (hit !== undefined) return resolve(hit);
        waiters.push({ pattern, resolve });
        void exit.then((e) => reject(new Error(`exited (${e.signal ?? e.code}) before printing ${pattern}: ${e.stdout}`)));
      }),
  };
}

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('onStopSignal', () => {
  it('stops once at the first signal; a second one has its default effect', async () => {
    // the stop never ends (the interval keeps the process alive), as a stuck close would not
    const p = script(`
      S.onStopSignal((sig) => console.log('stopping ' + sig));
      setInterval(() => {}, 1000);
      console.log('ready');
    `);
    await p.line(/^ready$/);
    p.child.kill('SIGHUP');
    await p.line(/^stopping SIGHUP$/);
    p.child.kill('SIGTERM');
    const e = await p.exit;
    expect(e.signal).toBe('SIGTERM');
    expect(e.stdout.match(/stopping/g)).toHaveLength(1);
  });

  it("with again: 'ignore', further signals are caught until the handlers are removed", async () => {
    const p = script(`
      let n = 0;
      const remove = S.onStopSignal(() => { n++; console.log('stopping'); }, { again: 'ignore' });
      console.log('ready');
      process.stdin.resume();
      process.stdin.on('end', () => { remove(); console.log('stops ' + n + ', listeners ' + process.listenerCount('SIGTERM')); });
    `);
    await p.line(/^ready$/);
    p.child.kill('SIGINT');
    await p.line(/^stopping$/);
    p.child.kill('SIGTERM'); // would end the process, were it not caught
    p.child.kill('SIGINT');
    p.child.stdin!.end();
    const e = await p.exit;
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(e.stdout).toContain('stops 1, listeners 0');
  });

  it('listens only to the signals it is given', async () => {
    const p = script(`
      S.onStopSignal(() => console.log('stopping'), { signals: ['SIGINT', 'SIGTERM'] });
      console.log('ready');
      setInterval(() => {}, 1000);
    `);
    await p.line(/^ready$/);
    p.child.kill('SIGHUP');
    expect((await p.exit).signal).toBe('SIGHUP');
  });
});

describe('untilExit / catchSignals', () => {
  it('passes signals on to the child, catches the ones it does not pass, and gives a shell status', async () => {
    const p = script(`
      import { spawn } from 'node:child_process';
      const caught = S.catchSignals(S.STOP_SIGNALS, { pass: (s) => s !== 'SIGINT' });
      const exited = S.untilExit(() => spawn('sleep', ['60'], { stdio: 'ignore' }), caught);
      console.log('ready');
      const exit = await exited;
      caught.stop();
      console.log('child ' + exit.signal + ' status ' + S.exitStatus(exit) + ' listeners ' + process.listenerCount('SIGTERM'));
    `);
    await p.line(/^ready$/);
    p.child.kill('SIGINT'); // caught, not passed on: the child would die of it (130)
    p.child.kill('SIGTERM');
    const e = await p.exit;
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(e.stdout).toContain('child SIGTERM status 143 listeners 0');
  });

  it('rejects with the spawn error when the child cannot start, leaving no handlers', async () => {
    const p = script(`
      import { spawn } from 'node:child_process';
      try {
        await S.withCaughtSignals(S.STOP_SIGNALS, {}, (caught) => S.untilExit(() => spawn('/nonexistent/agentfs-test'), caught));
      } catch (e) {
        console.log(e.code + ' listeners ' + process.listenerCount('SIGINT'));
      }
    `);
    const e = await p.exit;
    expect(e.stdout).toContain('ENOENT listeners 0');
  });

  it('a signal before the command starts means it does not; one after it exited does not end us during the clean-up', async () => {
    const p = script(`
      import { spawn } from 'node:child_process';
      let started = 0;
      const early = await S.withCaughtSignals(S.STOP_SIGNALS, {}, async (caught) => {
        process.kill(process.pid, 'SIGTERM');
        await new Promise((r) => setTimeout(r, 100));
        return S.untilExit(() => (started++, spawn('true')), caught);
      });
      const late = await S.withCaughtSignals(S.STOP_SIGNALS, {}, async (caught) => {
        const exit = await S.untilExit(() => (started++, spawn('true')), caught);
        process.kill(process.pid, 'SIGINT'); // the clean-up's time: caught, not passed on, not fatal
        await new Promise((r) => setTimeout(r, 100));
        return exit;
      });
      console.log('early ' + S.exitStatus(early) + ' late ' + S.exitStatus(late) + ' started ' + started + ' listeners ' + process.listenerCount('SIGINT'));
    `);
    const e = await p.exit;
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(e.stdout).toContain('early 143 late 0 started 1 listeners 0');
  });

  it('a signal that comes before the child exists is passed on once it does, instead of killing us', async () => {
    // the CI's race: exec's command printed its first line (and the test sent SIGINT) before the
    // code after spawn() had put the handlers in place, and exec died of the SIGINT itself
    const p = script(`
      import { spawn } from 'node:child_process';
      const caught = S.catchSignals(S.STOP_SIGNALS);
      process.kill(process.pid, 'SIGINT');
      process.kill(process.pid, 'SIGINT');
      await new Promise((r) => setTimeout(r, 200));
      const child = spawn('sleep', ['60'], { stdio: 'ignore' });
      caught.forwardTo(child);
      const exit = await new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      caught.stop();
      console.log('child ' + exit.signal + ' listeners ' + process.listenerCount('SIGINT'));
    `);
    const e = await p.exit;
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(e.stdout).toContain('child SIGINT listeners 0');
  });

  it('exitStatus: the code, else 128 + the signal number', async () => {
    const { exitStatus } = (await import(SIGNALS)) as typeof import('../../src/platform/signals.js');
    expect(exitStatus({ code: 3, signal: null })).toBe(3);
    expect(exitStatus({ code: null, signal: 'SIGKILL' })).toBe(137);
    expect(exitStatus({ code: null, signal: 'SIGINT' })).toBe(130);
  });
});
