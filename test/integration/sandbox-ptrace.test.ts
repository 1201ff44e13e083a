// `agentfs run --experimental-sandbox`: the ptrace supervisor (native/ptrace) serves the working
// directory from the session's overlay without FUSE or namespaces. Real tools run under it; the
// host directory must stay byte-identical and the session must hold the changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, run, tempDir } from '../support/cli.js';
import { snapshotTree } from '../support/tree-snapshot.js';

let tmp: { dir: string; cleanup: () => void };
let env: NodeJS.ProcessEnv;
let n = 0;

/** A fresh project directory with a few files. */
function project(): string {
  const proj = join(tmp.dir, `proj${++n}`);
  mkdirSync(join(proj, 'src/lib'), { recursive: true });
  writeFileSync(join(proj, 'README.md'), '# proj\n');
  writeFileSync(join(proj, 'src/main.js'), 'console.log(1)\n');
  writeFileSync(join(proj, 'src/lib/util.js'), 'module.exports = 1\n');
  writeFileSync(join(proj, 'run.sh'), '#!/bin/sh\necho run "$@"\n');
  chmodSync(join(proj, 'run.sh'), 0o755);
  return proj;
}

function sessionOf(stderr: string): string {
  const m = /session (\S+): changes are kept in (\S+);/.exec(stderr);
  if (!m) throw new Error(`no session line in: ${stderr}`);
  return m[1]!;
}

function ptraceRun(proj: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(['run', '--experimental-sandbox', ...args], { cwd: proj, env: { ...env, ...extraEnv }, timeoutMs: 120_000 });
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

beforeAll(() => {
  tmp = tempDir('agentfs-ptrace-');
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
});

afterAll(() => tmp.cleanup());

describe('agentfs run --experimental-sandbox', () => {
  it('runs bash and coreutils in the working directory; the host stays byte-identical; diff shows the changes', async () => {
    const proj = project();
    const before = snapshotTree(proj);
    const script = [
      'set -e',
      'ls',
      'cat README.md',
      'cp README.md copy.md',
      'mv copy.md moved.md',
      'echo more >> README.md',
      'rm -r src/lib',
      'mkdir -p new/deeper && echo hi > new/deeper/file.txt',
      './run.sh ok',
      'chmod 600 run.sh',
      'ln -s README.md readme-link',
      'cd new && pwd && cat ../README.md && cd ..',
      'find . | sort',
      'echo "$AGENTFS_SANDBOX $AGENTFS_SESSION"',
    ].join('\n');
    const r = await ptraceRun(proj, ['--', 'bash', '-c', script]);
    expect(r.stderr).not.toMatch(/No such file|denied|Read-only|ENOSYS/);
    expect(r.code).toBe(0);
    const id = sessionOf(r.stderr);
    expect(r.stdout).toContain('README.md\nrun.sh\nsrc\n# proj\n');
    expect(r.stdout).toContain(`${join(proj, 'new')}\n# proj\nmore\n`);
    expect(r.stdout).toContain(
      ['.', './README.md', './moved.md', './new', './new/deeper', './new/deeper/file.txt', './readme-link', './run.sh', './src', './src/main.js'].join('\n'),
    );
    expect(r.stdout).toContain('run ok\n');
    expect(r.stdout).toContain(`ptrace ${id}\n`);
    expect(snapshotTree(proj)).toEqual(before);

    const d = await runCli(['diff', id], { cwd: proj, env });
    expect(d.code).toBe(0);
    const lines = d.stdout.trim().split('\n');
    for (const l of ['M file    README.md', 'A file    moved.md', 'A dir     new', 'A file    new/deeper/file.txt', 'A symlink readme-link', 'D dir     src/lib', 'D file    src/lib/util.js']) {
      expect(lines).toContain(l);
    }
    // a second run of the session sees the first one's changes
    const again = await ptraceRun(proj, ['--session', id, '--', 'sh', '-c', 'cat moved.md new/deeper/file.txt; ls src']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('# proj\nhi\nmain.js\n');
    expect(snapshotTree(proj)).toEqual(before);

    // commit applies the session to the base
    const c = await runCli(['commit', id], { cwd: proj, env });
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(join(proj, 'README.md'), 'utf8')).toBe('# proj\nmore\n');
    expect(readFileSync(join(proj, 'new/deeper/file.txt'), 'utf8')).toBe('hi\n');
    expect(existsSync(join(proj, 'src/lib'))).toBe(false);
  });

  it('catches the ways to the working directory that do not start with it: absolute, .., dirfd, host symlinks, sockets', async () => {
    const proj = project();
    const name = proj.split('/').pop()!;
    const link = join(tmp.dir, `link-to-${name}`);
    execFileSync('ln', ['-s', proj, link]);
    const before = snapshotTree(proj);
    const py = [
      'import os, socket',
      `d = os.open(${JSON.stringify(tmp.dir)}, os.O_RDONLY)`,
      `fd = os.open("${name}/dirfd.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=d); os.write(fd, b"dirfd"); os.close(fd)`,
      `os.mkdir("${name}/dirfd-dir", dir_fd=d)`,
      's = socket.socket(socket.AF_UNIX); s.bind("sock"); print(os.path.exists("sock"))',
    ].join('\n');
    const script = [
      'set -e',
      `echo abs > ${proj}/abs.txt`,
      `echo rel > ../${name}/rel.txt`,
      `echo link > ${link}/via-link.txt`,
      `mkdir ${link}/link-dir`,
      `cd / && echo root > ${proj.slice(1)}/from-root.txt && cd ${proj}`,
      `cd src && echo up > ../../${name}/up.txt && cd ..`,
      `python3 -c '${py}'`,
      'ls',
    ].join('\n');
    const r = await ptraceRun(proj, ['--session', 'escape', '--', 'bash', '-c', script]);
    expect(r.stderr).not.toMatch(/Error|No such|denied/);
    expect(r.code).toBe(0);
    expect(snapshotTree(proj)).toEqual(before);
    const d = await runCli(['diff', 'escape'], { cwd: proj, env });
    for (const f of ['abs.txt', 'rel.txt', 'via-link.txt', 'from-root.txt', 'up.txt', 'dirfd.txt']) expect(d.stdout).toContain(`A file    ${f}`);
    expect(d.stdout).toContain('A dir     link-dir');
    expect(d.stdout).toContain('A dir     dirfd-dir');
    expect(r.stdout).toContain('True\n');
  });

  it('copies files larger than one piece both ways, and keeps a one-byte change deep inside one', async () => {
    const proj = project();
    const big = Buffer.alloc(3_000_000, 7);
    writeFileSync(join(proj, 'big.bin'), big);
    const before = snapshotTree(proj);
    const r = await ptraceRun(proj, ['--session', 'big', '--', 'sh', '-c', 'printf X | dd of=big.bin bs=1 seek=2500000 conv=notrunc 2>/dev/null; head -c 2500001 big.bin | tail -c 1; cat big.bin big.bin > twice.bin']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('X');
    expect(snapshotTree(proj)).toEqual(before);
    const check = await ptraceRun(proj, ['--session', 'big', '--', 'sh', '-c', 'sha256sum big.bin twice.bin']);
    const changed = Buffer.from(big);
    changed[2_500_000] = 'X'.charCodeAt(0);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(check.stdout).toBe(`${sha(changed)}  big.bin\n${sha(Buffer.concat([changed, changed]))}  twice.bin\n`);
  });

  it('files the command never opened keep their content through moves, links, touches and dir renames', async () => {
    const proj = project();
    mkdirSync(join(proj, 'data/deep'), { recursive: true });
    for (const n of ['a', 'b', 'c', 'd', 'f']) writeFileSync(join(proj, `data/${n}.txt`), `content ${n}\n`);
    writeFileSync(join(proj, 'data/deep/e.txt'), 'content e\n');
    execFileSync('ln', ['-s', 'data/d.txt', join(proj, 'to-d')]);
    const before = snapshotTree(proj);
    const r = await ptraceRun(proj, ['--session', 'lazy', '--', 'sh', '-c', [
      'set -e',
      'mv data/a.txt a-moved.txt',
      'ln data/b.txt b-linked.txt',
      'touch -d 2001-01-01 data/c.txt',
      'mv data/deep deep-moved',
      'cat to-d',
      'ls -l data/c.txt | grep -c 2001',
      'echo replaced > data/f.txt && cat data/f.txt',
    ].join('\n')]);
    expect(r.stderr).not.toMatch(/cannot|No such/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('content d\n1\nreplaced\n');
    expect(snapshotTree(proj)).toEqual(before);
    const check = await ptraceRun(proj, ['--session', 'lazy', '--', 'sh', '-c', 'cat a-moved.txt b-linked.txt data/b.txt data/c.txt deep-moved/e.txt data/f.txt; ls data; ls -l data/c.txt | grep -c 2001']);
    expect(check.stdout).toBe('content a\ncontent b\ncontent b\ncontent c\ncontent e\nreplaced\nb.txt\nc.txt\nd.txt\nf.txt\n1\n');
  });

  it('passes the exit status and records the run in the session timeline', async () => {
    const proj = project();
    const r = await ptraceRun(proj, ['--session', 'tl', '--', 'sh', '-c', 'echo v2 > VERSION; exit 3']);
    expect(r.code).toBe(3);
    const tl = await runCli(['timeline', 'tl', '--format', 'json'], { cwd: proj, env });
    const events = JSON.parse(tl.stdout) as { name?: string; status?: string; id?: number; type?: string; path?: string; tool_call_id?: number }[];
    const call = events.find((e) => e.name === 'agentfs run')!;
    expect(call.status).toBe('error');
    expect(events.some((e) => e.type === 'file' && e.path === '/VERSION' && e.tool_call_id === call.id)).toBe(true);
    expect(existsSync(join(proj, 'VERSION'))).toBe(false);
  });

  it('--strace prints each intercepted syscall with its result; unhandled syscalls on served paths fail with ENOSYS', async () => {
    const proj = project();
    const before = snapshotTree(proj);
    const r = await ptraceRun(proj, ['--strace', '--', 'python3', '-c', [
      'import os',
      'print(open("README.md").read(), end="")',
      'try:\n    os.chroot(".")\nexcept OSError as e:\n    print("chroot", e.errno)',
    ].join('\n')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('# proj\nchroot 38\n'); // ENOSYS
    expect(r.stderr).toMatch(/^\[pid \d+\] openat\(AT_FDCWD, "README.md", .*\) = \d+$/m);
    expect(r.stderr).toMatch(/^\[pid \d+\] chroot\("\."\) = -1 ENOSYS .*not available/m); // anywhere: see sandbox-ptrace-hostile
    expect(snapshotTree(proj)).toEqual(before);

    const file = join(tmp.dir, 'trace.txt');
    const f = await ptraceRun(proj, ['--strace-file', file, '--', 'cat', `${proj}/src/main.js`]);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe('console.log(1)\n');
    expect(f.stderr).not.toContain('[pid');
    expect(readFileSync(file, 'utf8')).toContain(`openat(AT_FDCWD, "${proj}/src/main.js", 0, 0) = 3`);
  });

  it('follows a tracee that forks 50 children', async () => {
    const proj = project();
    const r = await ptraceRun(proj, ['--session', 'forks', '--', 'bash', '-c', 'mkdir out; for i in $(seq 50); do (echo $i > out/f$i) & done; wait; ls out | wc -l']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('50');
    expect(existsSync(join(proj, 'out'))).toBe(false);
    const d = await runCli(['diff', 'forks'], { cwd: proj, env });
    expect(d.stdout.trim().split('\n').filter((l) => l.startsWith('A file    out/f'))).toHaveLength(50);
  });

  it('keeps the writes of a multi-threaded writer', async () => {
    const proj = project();
    const py = [
      'import threading, os',
      'def work(t):',
      '    with open(f"t{t}.txt", "w") as f:',
      '        for i in range(200): f.write(f"{t}:{i}\\n")',
      '    fd = os.open("shared.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)',
      '    for i in range(100): os.write(fd, f"{t} {i}\\n".encode())',
      '    os.close(fd)',
      'ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]',
      '[t.start() for t in ts]; [t.join() for t in ts]',
      'print(len(open("shared.log").readlines()))',
    ].join('\n');
    const r = await ptraceRun(proj, ['--session', 'threads', '--', 'python3', '-c', py]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.stdout.trim()).toBe('800');
    const check = await ptraceRun(proj, ['--session', 'threads', '--', 'sh', '-c', 'cat t*.txt | wc -l; wc -l < shared.log']);
    expect(check.stdout.split('\n').map((s) => s.trim())).toEqual(['1600', '800', '']);
    expect(readdirSync(proj).sort()).toEqual(['README.md', 'run.sh', 'src']);
  });

  it.runIf(has('git'))('git status and commit work in the sandboxed directory', async () => {
    const proj = project();
    const g = (...a: string[]) => execFileSync('git', a, { cwd: proj, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    g('init', '-q');
    g('add', '.');
    g('commit', '-qm', 'init');
    const before = snapshotTree(proj);
    const r = await ptraceRun(proj, ['--session', 'git', '--', 'sh', '-c', [
      'echo change >> README.md',
      'git status --porcelain',
      'git -c user.name=t -c user.email=t@t commit -qam change',
      'git log --oneline | wc -l',
      'git status --porcelain | wc -l',
    ].join(' && ')]);
    expect(r.stderr).not.toMatch(/fatal|error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(' M README.md\n2\n0\n');
    expect(snapshotTree(proj)).toEqual(before);
    expect(g('log', '--oneline').toString().trim().split('\n')).toHaveLength(1);
  });

  it('python and node scripts work in the sandboxed directory', async () => {
    const proj = project();
    writeFileSync(
      join(proj, 'script.py'),
      [
        'import os, json, mmap',
        'os.makedirs("py/out", exist_ok=True)',
        'json.dump(sorted(os.listdir(".")), open("py/out/list.json", "w"))',
        'with open("README.md", "rb") as f:',
        '    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ); assert m[:6] == b"# proj", m[:6]',
        'fd = os.open("README.md", os.O_RDONLY); d = os.dup(fd); os.lseek(d, 2, 0); assert os.pread(fd, 4, 2) == b"proj"; assert os.read(d, 4) == b"proj"',
        'print(os.getcwd())',
        '',
      ].join('\n'),
    );
    writeFileSync(join(proj, 'script.mjs'), 'import fs from "node:fs";\nfs.renameSync("README.md", "READ.md");\nfs.writeFileSync("node.txt", fs.readFileSync("READ.md", "utf8").toUpperCase());\nconsole.log(process.cwd(), fs.readdirSync(".").sort().join(","));\n');
    const before = snapshotTree(proj);
    const r = await ptraceRun(proj, ['--session', 'scripts', '--', 'sh', '-c', `python3 script.py && ${process.execPath} script.mjs`]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${proj}\n${proj} READ.md,node.txt,py,run.sh,script.mjs,script.py,src\n`);
    expect(snapshotTree(proj)).toEqual(before);
    const d = await runCli(['diff', 'scripts'], { cwd: proj, env });
    expect(d.stdout).toContain('A file    node.txt');
    expect(d.stdout).toContain('A file    py/out/list.json');
    expect(d.stdout).toContain('D file    README.md');
  });

  it.runIf(process.getuid?.() === 0 && existsSync('/dev/fuse') && has('unshare'))('works with /dev/fuse unavailable', async () => {
    const proj = project();
    const before = snapshotTree(proj);
    // a private mount namespace where /dev/fuse is /dev/null: plain run cannot mount, this one can
    const wrap = (args: string) =>
      run('unshare', ['-m', 'sh', '-c', `mount --make-rprivate / && mount --bind /dev/null /dev/fuse && exec "${process.execPath}" "${CLI}" run ${args}`], {
        cwd: proj,
        env,
        timeoutMs: 120_000,
      });
    const plain = await wrap('-- true');
    expect(plain.code).not.toBe(0);
    const r = await wrap(`--experimental-sandbox --session nofuse -- sh -c 'echo new > made.txt && rm -r src && ls'`);
    expect(r.stderr).not.toMatch(/fusermount|\/dev\/fuse|cannot/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('README.md\nmade.txt\nrun.sh\n');
    expect(snapshotTree(proj)).toEqual(before);
    const d = await runCli(['diff', 'nofuse'], { cwd: proj, env });
    expect(d.stdout).toContain('A file    made.txt');
    expect(d.stdout).toContain('D dir     src');
  });

  it('passes SIGTERM sent to agentfs run on to the command', async () => {
    const proj = project();
    const child = spawn(process.execPath, [CLI, 'run', '--experimental-sandbox', '--session', 'sig', '--', 'sh', '-c', 'trap "echo got; exit 5" TERM; echo ready; while :; do sleep 0.1; done'], {
      cwd: proj,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    expect(await exited).toBe(5);
    expect(out).toBe('ready\ngot\n');
  });

  it('the command dies with agentfs run (SIGKILL): nothing keeps running on a shadow nobody writes back', async () => {
    const proj = project();
    const child = spawn(process.execPath, [CLI, 'run', '--experimental-sandbox', '--session', 'killed', '--', 'sh', '-c', 'echo "ready $$"; exec sleep 30'], {
      cwd: proj,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => child.on('exit', resolve)); // not 'close': a survivor would hold the pipes
    for (let i = 0; i < 200 && !/ready \d+/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(/ready (\d+)/.exec(out)![1]);
    child.kill('SIGKILL');
    await exited;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
    // its shadow is left behind; the next run sweeps it
    const left = () => readdirSync('/dev/shm').filter((n) => n.startsWith('agentfs-shadow-killed-'));
    expect(left()).toHaveLength(1);
    expect((await ptraceRun(proj, ['--', 'true'])).code).toBe(0);
    expect(left()).toEqual([]);
  });

  it('refuses a second run of a live session, either kind, in one line', async () => {
    const proj = project();
    const first = spawn(process.execPath, [CLI, 'run', '--experimental-sandbox', '--session', 'busy', '--', 'sh', '-c', 'echo ready; sleep 30'], {
      cwd: proj,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    first.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => first.on('close', resolve));
    try {
      for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
      const again = await ptraceRun(proj, ['--session', 'busy', '--', 'true']);
      expect(again.code).not.toBe(0);
      expect(again.stderr.trim()).toBe('agentfs: session busy is in use by another run; --experimental-sandbox does not join a live session');
    } finally {
      first.kill('SIGTERM');
      await exited;
    }
  });

  it.runIf(has('strace'))('says so in one line where ptrace is not allowed (already traced), and touches nothing', async () => {
    const proj = project();
    const before = snapshotTree(proj);
    const r = await run('strace', ['-f', '-o', '/dev/null', process.execPath, CLI, 'run', '--experimental-sandbox', '--', 'sh', '-c', 'echo x > made.txt'], { cwd: proj, env });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^agentfs: --experimental-sandbox: ptrace is not allowed here \(.*\)$/m);
    expect(snapshotTree(proj)).toEqual(before);
  });

  it('refuses --strace without --experimental-sandbox, with one line', async () => {
    const proj = project();
    const r = await runCli(['run', '--strace', '--', 'true'], { cwd: proj, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^agentfs: --strace and --strace-file need --experimental-sandbox$/);
    const both = await runCli(['run', '--experimental-sandbox', '--strace', '--strace-file', join(proj, 'calls.txt'), '--', 'true'], { cwd: proj, env });
    expect(both.code).not.toBe(0);
    expect(both.stderr.trim()).toBe('agentfs: --strace and --strace-file exclude each other (the calls go to stderr or to the file)');
  });
});
