import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, runCli, spawnCli, tempDir, underSignalStream } from '../support/cli.js';
import { forceUnmount, isAlive, isMounted, mountBg, sh, waitFor } from '../support/fuse.js';
import { Agent } from '../../src/core/agent.js';

/** Mount lifecycle: background/foreground, listing, unmount, signals, crashes, exec. */
let tmp: { dir: string; cleanup: () => void };
const env = () => ({ AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') });
const cli = (args: string[]) => runCli(args, { cwd: tmp.dir, env: env() });
const mounts: Array<{ mnt: string; pid?: number }> = [];

/** exec's temporary mounts still mounted in /tmp (each test expects none). */
function execMountsLeft(): string[] {
  return readdirSync('/tmp').filter((n) => n.startsWith('agentfs-exec-') && isMounted(join('/tmp', n)));
}

function mnt(name: string): string {
  const p = join(tmp.dir, name);
  mkdirSync(p, { recursive: true });
  return p;
}

async function mount(id: string, mountpoint: string, extra: string[] = []): Promise<number> {
  const r = await cli(['mount', id, mountpoint, ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const pid = Number(/\(pid (\d+)\)/.exec(r.stdout)?.[1]);
  mounts.push({ mnt: mountpoint, pid });
  expect(isMounted(mountpoint)).toBe(true);
  return pid;
}

beforeAll(async () => {
  tmp = tempDir('agentfs-fuse-mount-');
  for (const id of ['a', 'b', 'c', 'd', 'e']) expect((await cli(['init', id])).code).toBe(0);
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

describe('agentfs mount / unmount', () => {
  it('mounts in the background, lists the mount, shares data with the CLI and SDK both ways', async () => {
    const m = mnt('m-a');
    const pid = await mount('a', m);
    expect(isAlive(pid)).toBe(true);

    const list = await cli(['mount']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(m);
    expect(list.stdout).toContain(join(tmp.dir, '.agentfs', 'a.db'));
    expect(list.stdout).toContain(String(pid));

    // mount -> CLI
    const w = await sh('printf "through the mount" > from-mount.txt && mkdir -p d/e && echo deep > d/e/f.txt', m);
    expect(w.code).toBe(0);
    const cat = await cli(['fs', 'cat', 'a', '/from-mount.txt']);
    expect(cat.stdout).toBe('through the mount');
    // CLI -> mount (new file, then a changed file)
    expect((await cli(['fs', 'write', 'a', '/from-cli.txt', 'written by the CLI'])).code).toBe(0);
    expect((await sh('cat from-cli.txt', m)).stdout).toBe('written by the CLI');
    // a file the kernel has cached, changed by another process: the mount sees the new content
    expect((await cli(['fs', 'write', 'a', '/from-cli.txt', 'changed by the CLI, and longer'])).code).toBe(0);
    // the change watcher's next poll (every 100 ms) drops what the kernel cached: looked at until then
    let seen = '';
    for (let i = 0; i < 50 && seen !== 'changed by the CLI, and longer\n30\n'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = (await sh('cat from-cli.txt; echo; stat -c %s from-cli.txt', m)).stdout;
    }
    expect(seen).toBe('changed by the CLI, and longer\n30\n');
    // SDK in this (non-serving) process, byte for byte
    const agent = Agent.open({ path: join(tmp.dir, '.agentfs', 'a.db') });
    try {
      expect(agent.paths.readFile('/d/e/f.txt', 'utf8')).toBe('deep\n');
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
      agent.paths.writeFile('/bytes.bin', bytes);
      const hex = await sh('od -An -v -tx1 bytes.bin | tr -d " \\n"', m);
      expect(hex.stdout).toBe(bytes.toString('hex'));
    } finally {
      agent.close();
    }

    const un = await cli(['unmount', m]);
    expect(un.code).toBe(0);
    expect(isMounted(m)).toBe(false);
    expect(await waitFor(() => !isAlive(pid))).toBe(true);
    expect((await cli(['mount'])).stdout).not.toContain(m);
  });

  it('a name the kernel has from a rename is dropped when another process removes it (the CLI, a second mount)', async () => {
    // A rename moves the kernel's entry to the new name without a lookup: the mount must count it
    // among the names it handed out, or the change watcher never drops it and the name stays for
    // the entry timeout (60 s) after another process removed it (found by a hostile pass).
    expect((await cli(['init', 'two'])).code).toBe(0);
    const m1 = mnt('m-two-1');
    const m2 = mnt('m-two-2');
    await mount('two', m1);
    await mount('two', m2);
    const goneFromM1 = async (name: string): Promise<string> => {
      let seen = '';
      for (let i = 0; i < 30 && seen !== 'gone\n'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = (await sh(`test -e ${name} && echo there || echo gone`, m1)).stdout;
      }
      return seen;
    };
    // each file keeps another link, so its inode (which the watcher drops too) outlives the name
    expect((await sh('echo x > a && ln a keep && mv a b && stat -c %s b', m1)).stdout).toBe('2\n');
    expect((await cli(['fs', 'rm', 'two', '/b'])).code).toBe(0);
    expect(await goneFromM1('b')).toBe('gone\n');
    expect((await sh('mkdir -p d && echo y > d/c && ln d/c keep2 && mv d/c d/e && cat d/e', m1)).stdout).toBe('y\n');
    // the second mount sees m1's change once m1's group commit is in (10 ms; a fast machine's
    // shell could start before it)
    expect((await sh('for i in $(seq 100); do test -e d/e && break; sleep 0.02; done; rm d/e', m2)).code).toBe(0);
    expect(await goneFromM1('d/e')).toBe('gone\n');
    expect((await cli(['unmount', m2])).code).toBe(0);
    expect((await cli(['unmount', m1])).code).toBe(0);
  });

  it('keeps everything across unmount and mount again', async () => {
    const m = mnt('m-b');
    const runDir = env().AGENTFS_RUNTIME_DIR;
    const runtimeFiles = () => (existsSync(runDir) ? readdirSync(runDir).sort() : []);
    const filesBefore = runtimeFiles();
    await mount('b', m);
    const script = [
      'mkdir -p src/sub && printf "one" > src/a.txt && ln src/a.txt src/hard && ln -s a.txt src/sym',
      'chmod 640 src/a.txt && touch -d "2001-02-03 04:05:06.123456789" src/a.txt',
      'mkfifo src/fifo && dd if=/dev/urandom of=src/rand bs=1k count=300 2>/dev/null',
      'stat -c "%n %i %h %a %y %s %F" src/* | sort > /tmp/agentfs-before-$$ && sha256sum src/rand | cut -c1-64',
      'cat /tmp/agentfs-before-$$ && rm /tmp/agentfs-before-$$',
    ].join(' && ');
    const before = await sh(script, m);
    expect(before.code).toBe(0);
    expect((await cli(['unmount', m])).code).toBe(0);
    await mount('b', m);
    const after = await sh('sha256sum src/rand | cut -c1-64 && stat -c "%n %i %h %a %y %s %F" src/* | sort', m);
    expect(after.stdout).toBe(before.stdout);
    expect(after.stdout).toContain('src/a.txt');
    expect(after.stdout).toContain('2001-02-03 04:05:06.123456789');
    expect((await cli(['unmount', m])).code).toBe(0);
    // a clean unmount leaves no record and no (empty) server log in the runtime directory
    expect(runtimeFiles()).toEqual(filesBefore);
  });

  it('SIGTERM unmounts cleanly and the server exits', async () => {
    const m = mnt('m-c');
    const pid = await mount('c', m);
    expect((await sh('echo x > f', m)).code).toBe(0);
    process.kill(pid, 'SIGTERM');
    expect(await waitFor(() => !isAlive(pid))).toBe(true);
    expect(isMounted(m)).toBe(false);
    expect((await cli(['fs', 'cat', 'c', '/f'])).stdout).toBe('x\n');
  });

  it('a killed server leaves no hang, and the next mount recovers the stale mountpoint', async () => {
    const m = mnt('m-d');
    const pid = await mount('d', m);
    expect((await sh('echo before > f && sync f', m)).code).toBe(0);
    process.kill(pid, 'SIGKILL');
    expect(await waitFor(() => !isAlive(pid))).toBe(true);
    // callers get an error, not a hang
    const probe = await sh(`stat ${m} 2>&1; echo rc=$?`, undefined, 10_000);
    expect(probe.stdout).toMatch(/not connected/i);
    expect(isMounted(m)).toBe(true);
    const list = await cli(['mount']);
    expect(list.stdout).toContain('stale');
    const pid2 = await mount('d', m);
    expect(pid2).not.toBe(pid);
    expect((await sh('cat f', m)).stdout).toBe('before\n');
    expect((await cli(['unmount', m])).code).toBe(0);
  });

  it('--auto-unmount: the kernel drops the mount when the server dies', async () => {
    const m = mnt('m-e');
    const pid = await mount('e', m, ['--auto-unmount']);
    process.kill(pid, 'SIGKILL');
    expect(await waitFor(() => !isMounted(m))).toBe(true);
  });

  it('--foreground stays attached; Ctrl-C (SIGINT) unmounts', async () => {
    const m = mnt('m-fg');
    const child = spawn(process.execPath, [CLI, 'mount', 'a', m, '-f'], { cwd: tmp.dir, env: { ...process.env, ...env() }, stdio: 'ignore' });
    mounts.push({ mnt: m, pid: child.pid });
    expect(await waitFor(() => isMounted(m))).toBe(true);
    expect((await sh('cat from-mount.txt', m)).stdout).toBe('through the mount');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(isMounted(m)).toBe(false);
  });

  it('a SIGINT the moment the mount appears unmounts it too (the kernel lists it before the server is all set up)', async () => {
    for (let round = 0; round < 5; round++) {
      const m = mnt(`m-early${round}`);
      const child = spawn(process.execPath, [CLI, 'mount', 'a', m, '-f'], { cwd: tmp.dir, env: { ...process.env, ...env() }, stdio: 'ignore' });
      mounts.push({ mnt: m, pid: child.pid });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // as soon as the kernel lists it: a poll with no pause (waitFor's 50 ms would miss the window)
      const end = Date.now() + 10_000;
      while (!isMounted(m) && Date.now() < end);
      expect(isMounted(m)).toBe(true);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(isMounted(m)).toBe(false);
    }
  });

  it('a second signal as the unmount ends is ignored too: exit 0, the database closed, no record left', async () => {
    const runDir = env().AGENTFS_RUNTIME_DIR;
    // the runtime records naming mountpoint m (other tests' mounts may be live meanwhile)
    const records = (m: string) =>
      (existsSync(runDir) ? readdirSync(runDir) : []).filter((f) => {
        if (!f.startsWith('mount-') || !f.endsWith('.json')) return false;
        try {
          return (JSON.parse(readFileSync(join(runDir, f), 'utf8')) as { mountpoint?: string }).mountpoint === m;
        } catch {
          return false; // being written or removed
        }
      });
    // the second signal 1 to 12 ms after the first: while the server unmounts, closes the
    // database and removes its record, and exits (each took a few ms here)
    for (const [round, delayMs] of [1, 2, 3, 4, 6, 8, 12].entries()) {
      const m = mnt(`m-twice${round}`);
      const child = spawn(process.execPath, [CLI, 'mount', 'a', m, '-f'], { cwd: tmp.dir, env: { ...process.env, ...env() }, stdio: 'ignore' });
      mounts.push({ mnt: m, pid: child.pid });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      expect(await waitFor(() => isMounted(m))).toBe(true);
      expect(await waitFor(() => records(m).length > 0)).toBe(true);
      child.kill('SIGTERM');
      const at = performance.now() + delayMs;
      while (performance.now() < at);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(records(m)).toEqual([]);
    }
  });

  it('a server started through a path that names no agentfs is live to list, mount and unmount', async () => {
    // the server tells its record from a reused pid by its command line; one that named no
    // agentfs (the CLI run as `node dist/cli/main.js` from a clone elsewhere) was taken for a
    // dead server, and the next mount on its mountpoint aborted its live connection
    const bin = mkdtempSync(join(tmpdir(), 'afs-cli-'));
    const m = mnt('m-plain');
    try {
      symlinkSync(CLI, join(bin, 'cli.js'));
      const child = spawn(process.execPath, [join(bin, 'cli.js'), 'mount', 'a', 'm-plain', '-f'], { cwd: tmp.dir, env: { ...process.env, ...env() }, stdio: 'ignore' });
      mounts.push({ mnt: m, pid: child.pid });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      expect(await waitFor(() => isMounted(m))).toBe(true);
      expect((await sh('echo kept > plain.txt', m)).code).toBe(0);
      const list = await cli(['mount']);
      expect(list.stdout).toMatch(new RegExp(`m-plain .* ${child.pid}\\n`));
      expect(list.stdout).not.toContain('stale');
      const twice = await cli(['mount', 'b', m]);
      expect(twice.code).not.toBe(0);
      expect(twice.stderr).toMatch(/already an agentfs mount.*pid/);
      expect((await sh('cat plain.txt', m)).stdout).toBe('kept\n');
      const un = await cli(['unmount', m]);
      expect(un.code).toBe(0);
      expect(un.stdout).not.toContain('died');
      expect(await exited).toBe(0);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('refuses bad input with one-line errors', async () => {
    const m = mnt('m-err');
    const noAgent = await cli(['mount', 'nope', m]);
    expect(noAgent.code).not.toBe(0);
    expect(noAgent.stderr).toMatch(/^agentfs: .*nope/);
    const noDir = await cli(['mount', 'a', join(tmp.dir, 'missing')]);
    expect(noDir.code).not.toBe(0);
    expect(noDir.stderr).toMatch(/^agentfs: .*no such directory/);
    const noMp = await cli(['mount', 'a']);
    expect(noMp.code).not.toBe(0);
    expect(noMp.stderr).toContain('MOUNTPOINT');
    const pid = await mount('a', m);
    const twice = await cli(['mount', 'b', m]);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/already an agentfs mount.*pid/);
    // busy: a process has its working directory there
    const holder = spawn('/bin/sh', ['-c', `cd ${m} && echo in && exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => holder.stdout!.once('data', r));
    const busy = await cli(['unmount', m]);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/busy/);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    expect((await cli(['unmount', m])).code).toBe(0);
    expect(await waitFor(() => !isAlive(pid))).toBe(true);
    const notMounted = await cli(['unmount', m]);
    expect(notMounted.code).not.toBe(0);
    expect(notMounted.stderr).toMatch(/not an agentfs mount/);
  });
});

describe('agentfs exec / init -c', () => {
  it('runs the command in the mount, returns its status, unmounts', async () => {
    const r = await cli(['exec', 'a', 'sh', '-c', 'pwd; cat from-mount.txt; echo exec-data > exec.txt; exit 3']);
    expect(r.code).toBe(3);
    const [pwd, content] = r.stdout.split('\n');
    expect(pwd).toMatch(/agentfs-exec-/);
    expect(content).toBe('through the mount');
    expect(isMounted(pwd!)).toBe(false);
    expect((await cli(['fs', 'cat', 'a', '/exec.txt'])).stdout).toBe('exec-data\n');
    // options after the command belong to the command
    const ls = await cli(['exec', 'a', 'ls', '-1a']);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split('\n')).toContain('exec.txt');
    // `--` between the agent and the command, as record takes it
    const dashed = await cli(['exec', 'a', '--', 'sh', '-c', 'cat exec.txt']);
    expect(dashed.stderr).toBe('');
    expect(dashed.stdout).toBe('exec-data\n');
    const missing = await cli(['exec', 'a', 'no-such-command-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toBe('agentfs: no-such-command-xyz: command not found\n');
    // an empty name is not the first directory on PATH (it ran as `exec ''`: sh's Permission denied, 126)
    const empty = await cli(['exec', 'a', '']);
    expect(empty.code).toBe(127);
    expect(empty.stderr).toBe("agentfs: '': command not found\n");
    // a path that cannot run: one agentfs line and the shell's status (sh said `agentfs-exec: 1: exec: ...`)
    const dir = await cli(['exec', 'a', '/tmp']);
    expect([dir.code, dir.stderr]).toEqual([126, 'agentfs: /tmp: Is a directory\n']);
    const plain = await cli(['exec', 'a', './from-mount.txt']);
    expect([plain.code, plain.stderr]).toEqual([126, 'agentfs: ./from-mount.txt: Permission denied\n']);
    const gone = await cli(['exec', 'a', './no-such-file']);
    expect([gone.code, gone.stderr]).toEqual([127, 'agentfs: ./no-such-file: No such file or directory\n']);
    // no exec mounts left behind
    expect(execMountsLeft()).toEqual([]);
  });

  it('a SIGINT sent to exec without a terminal (kill -INT, a supervisor) reaches the command, as for record and run', async () => {
    const { child, exited } = spawnCli(['exec', 'a', 'sh', '-c', 'echo ready; exec sleep 30'], { cwd: tmp.dir, env: env() });
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const r = await exited;
    clearTimeout(timer);
    expect(r).toEqual({ code: 130, signal: null });
    expect(execMountsLeft()).toEqual([]);
  });

  it('exec under a stream of signals: none ends it while it mounts, runs or unmounts, and no mount stays', async () => {
    // the command ignores them; they come from exec's start to its end (they killed exec while
    // it mounted, leaving a dead mount, or while it unmounted after the command)
    // exec's temporary mountpoint in a directory of this test's own (TMPDIR), so that it can be
    // watched for
    const own = mkdtempSync(join(tmp.dir, 'exec-tmp-'));
    const { child, exited } = spawnCli(['exec', 'a', 'sh', '-c', "trap '' INT TERM HUP; echo ready; sleep 0.3"], { cwd: tmp.dir, env: { ...env(), TMPDIR: own } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    // from the moment exec can catch them (a signal during Node's own start-up is nobody's to
    // catch): its handlers are in place before it makes its mountpoint, and it mounts after
    const made = () => readdirSync(own).some((n) => n.startsWith('agentfs-exec-'));
    expect(await waitFor(() => made() || child.exitCode !== null, 30_000)).toBe(true);
    const r = await underSignalStream(child, exited);
    // either the command ran (and ignored them) or a signal came before it started and it did not run
    if (out.includes('ready')) expect(r).toEqual({ code: 0, signal: null });
    else expect([130, 143]).toContain(r.code);
    expect(readdirSync(own).filter((n) => n.startsWith('agentfs-exec-') && isMounted(join(own, n)))).toEqual([]);
    expect(execMountsLeft()).toEqual([]);
  });

  it('init -c creates the agent and runs the command inside it', async () => {
    const r = await cli(['init', 'withcmd', '-c', 'echo made-by-init > init.txt && ls']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('init.txt');
    expect((await cli(['fs', 'cat', 'withcmd', '/init.txt'])).stdout).toBe('made-by-init\n');
  });
});
