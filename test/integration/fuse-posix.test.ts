import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg, sh } from '../support/fuse.js';

/** POSIX behaviour through a real mount, driven by a C program and by ordinary tools. */
let tmp: { dir: string; cleanup: () => void };
let m: string;
let pid: number;
const env = () => ({ AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') });

beforeAll(async () => {
  tmp = tempDir('agentfs-fuse-posix-');
  expect((await runCli(['init', 'px'], { cwd: tmp.dir })).code).toBe(0);
  m = join(tmp.dir, 'mnt');
  mkdirSync(m);
  // allow_other so the permission checks can run as an unprivileged user
  pid = await mountBg('px', m, ['--allow-other'], tmp.dir);
  void env;
});

afterAll(async () => {
  await forceUnmount(m, pid);
  tmp.cleanup();
});

describe('syscalls through the kernel', () => {
  it('passes the C syscall program (open/openat, dup, pread/pwrite, getdents, link, rename, unlink-while-open, ...)', async () => {
    const bin = join(tmp.dir, 'fuse-syscalls');
    const cc = await run('cc', ['-O1', '-o', bin, join(ROOT, 'test/support/fuse-syscalls.c')]);
    expect(cc.stderr).toBe('');
    mkdirSync(join(tmp.dir, 'native'));
    // the same program passes on a native directory: it tests POSIX, not our quirks
    expect((await run(bin, [join(tmp.dir, 'native')])).stdout).toContain('all ok');
    expect((await sh(`mkdir sys`, m)).code).toBe(0);
    const r = await run(bin, [join(m, 'sys')], { timeoutMs: 120_000 });
    expect(r.stdout).not.toContain('FAIL');
    expect(r.stdout).toContain('ok getdents with stable offsets (10k entries)');
    expect(r.stdout).toContain('all ok');
    expect(r.code).toBe(0);
  });
});

describe('cached directory listings', () => {
  it('stay exact across changes through the mount and through the CLI meanwhile', async () => {
    const ls = async () => (await sh('ls -a lst', m)).stdout.trim().split('\n');
    expect((await sh('mkdir lst && touch lst/a lst/b', m)).code).toBe(0);
    expect(await ls()).toEqual(['.', '..', 'a', 'b']);
    expect(await ls()).toEqual(['.', '..', 'a', 'b']); // served from the kernel's cache
    expect((await sh('touch lst/c && rm lst/a && mv lst/b lst/d', m)).code).toBe(0);
    expect(await ls()).toEqual(['.', '..', 'c', 'd']);
    // another process changes the database: the next listing shows it (within the 0.1 s poll)
    expect((await runCli(['fs', 'write', 'px', '/lst/e', 'x'], { cwd: tmp.dir })).code).toBe(0);
    expect((await runCli(['fs', 'rm', 'px', '/lst/c'], { cwd: tmp.dir })).code).toBe(0);
    let seen: string[] = [];
    for (let i = 0; i < 50; i++) {
      seen = await ls();
      if (seen.join() === '.,..,d,e') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toEqual(['.', '..', 'd', 'e']);
  });
});

describe('real tools on the mount', () => {
  it('git init/add/commit/status/log', async () => {
    const r = await sh(
      [
        'mkdir repo && cd repo && git init -q -b main',
        'printf "int x;\\n" > a.c && mkdir -p lib && echo lib > lib/l.txt',
        'git add -A && git -c user.name=t -c user.email=t@e commit -qm first',
        'echo more >> a.c && git status --porcelain',
        'git -c user.name=t -c user.email=t@e commit -qam second && git log --oneline | wc -l && git status --porcelain && git fsck >/dev/null 2>&1 && echo fsck-ok',
      ].join(' && '),
      m,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(' M a.c\n2\nfsck-ok\n');
  });

  it('tar x, cp -a, rm -rf, and an npm-style tree of thousands of small files', async () => {
    const src = join(tmp.dir, 'tree-src');
    const make = await sh(
      `mkdir -p ${src} && cd ${src} && for p in $(seq 1 40); do mkdir -p node_modules/pkg$p/lib; ` +
        `for f in $(seq 1 50); do echo "module.exports = $p * $f;" > node_modules/pkg$p/lib/f$f.js; done; ` +
        `echo '{"name":"pkg'$p'"}' > node_modules/pkg$p/package.json; ln -s lib/f1.js node_modules/pkg$p/main.js; done && ` +
        `chmod 755 node_modules/pkg1/lib/f1.js && ` +
        `tar cf ${tmp.dir}/tree.tar node_modules`,
    );
    expect(make.code).toBe(0);
    const r = await sh(
      [
        `mkdir t && cd t && tar xf ${tmp.dir}/tree.tar && cd ..`,
        'touch -d "2000-01-01 00:00:00.5" t/node_modules/pkg2/package.json',
        'cp -a t/node_modules copy',
        `diff -r ${src}/node_modules t/node_modules && diff -r t/node_modules copy && echo same`,
        'find copy -type f | wc -l',
        'stat -c "%a %y" copy/pkg1/lib/f1.js copy/pkg2/package.json',
        'readlink copy/pkg3/main.js',
        'rm -rf t copy && ls',
      ].join(' && '),
      m,
      180_000,
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('same');
    expect(lines[1]?.trim()).toBe('2040');
    expect(lines[2]).toMatch(/^755 /);
    expect(lines[3]).toContain('2000-01-01 00:00:00.5');
    expect(lines[4]).toBe('lib/f1.js');
    expect(lines).not.toContain('t');
  });

  it('a C compiler builds and runs a program on the mount', async () => {
    const r = await sh(
      [
        'mkdir -p cc && cd cc',
        `cat > main.c <<'EOF'\n#include <stdio.h>\n#include "v.h"\nint main(void) { printf("%d\\n", V * 2); return 0; }\nEOF\ntrue`,
        'echo "#define V 21" > v.h',
        'cc -c main.c -o main.o && cc main.o -o prog && ./prog',
      ].join(' && '),
      m,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42\n');
  });
});

describe('permissions', () => {
  // root without CAP_FSETID, and nobody with it (setpriv's options for each)
  const NO_FSETID = 'setpriv --inh-caps=-fsetid --bounding-set=-fsetid';
  const NOBODY_FSETID = 'setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+fsetid --ambient-caps=+fsetid';
  const asNobody = (script: string) => sh(`setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '${script}' 2>&1; echo rc=$?`, m);

  it('checks permissions for non-root users', async () => {
    const setup = await sh(
      'mkdir -p perm/open perm/closed && echo public > perm/open/r.txt && echo secret > perm/closed/s.txt && ' +
        'chmod 644 perm/open/r.txt && chmod 700 perm/closed && chmod 777 perm/open',
      m,
    );
    expect(setup.code).toBe(0);
    expect((await asNobody('cat perm/open/r.txt')).stdout).toBe('public\nrc=0\n');
    expect((await asNobody('echo x >> perm/open/r.txt')).stdout).toMatch(/Permission denied[\s\S]*rc=[12]/);
    expect((await asNobody('cat perm/closed/s.txt')).stdout).toMatch(/Permission denied[\s\S]*rc=1/);
    expect((await asNobody('ls perm/closed')).stdout).toMatch(/Permission denied/);
    const own = await asNobody('echo mine > perm/open/n.txt && stat -c "%u %g" perm/open/n.txt');
    expect(own.stdout).toBe('65534 65534\nrc=0\n');
    expect((await asNobody('chmod 777 perm/open/r.txt')).stdout).toMatch(/Operation not permitted/);
  });

  it('a user writing, truncating or allocating a setuid/setgid file drops those bits, appending too (direct_io); root keeps them; chown drops them, chown(-1, -1) too', async () => {
    expect((await sh('mkdir -p setid && chmod 777 setid', m)).code).toBe(0);
    // mode before, what the user (or root, prefixed "root:") does, mode as stat sees it at once
    const cases: [string, string, string, string?][] = [
      ['4777', 'echo z | dd of=F conv=notrunc status=none', '-rwxrwxrwx'],
      ['4777', 'echo z >> F', '-rwxrwxrwx'],
      ['6777', 'echo z >> F', '-rwxrwxrwx'],
      ['6777', 'python3 -c "import os; fd = os.open(\\"F\\", os.O_WRONLY | os.O_DIRECT); os.pwrite(fd, b\\"z\\", 0); os.close(fd)"', '-rwxrwxrwx'],
      // setgid without group-exec: kept for a writer in the file's group, dropped for another (Linux 6.2 on)
      ['2766', 'echo z >> F', '-rwxrwSrw-', '65534'],
      ['2766', 'echo z >> F', '-rwxrw-rw-'],
      ['2766', 'truncate -s 0 F', '-rwxrw-rw-'],
      ['4777', 'truncate -s 1 F', '-rwxrwxrwx'],
      ['4777', 'echo q > F', '-rwxrwxrwx'],
      ['4755', 'root:echo x >> F', '-rwsr-xr-x'],
      ['4755', 'root:truncate -s 1 F', '-rwsr-xr-x'],
      ['6755', 'root:chown 65534 F', '-rwxr-xr-x'],
      ['6755', 'root:chown 0:0 F', '-rwxr-xr-x'],
      // the kernel leaves these to the server (FUSE_HANDLE_KILLPRIV): a SETATTR that sets nothing
      ['6777', 'fallocate -l 8192 F', '-rwxrwxrwx'],
      ['4755', 'root:python3 -c "import os; os.chown(\\"F\\", -1, -1)"', '-rwxr-xr-x'],
      ['2755', 'root:python3 -c "import os; os.chown(\\"F\\", -1, -1)"', '-rwxr-xr-x'],
      ['6745', 'root:python3 -c "import os; os.chown(\\"F\\", -1, -1)"', '-rwxr-Sr-x'],
      // privilege is CAP_FSETID, not uid 0: root without it (every command in `agentfs run`) drops
      // the bits, a user with it keeps them
      ['6777', `root:${NO_FSETID} truncate -s 1 F`, '-rwxrwxrwx'],
      ['6767', `root:${NO_FSETID} sh -c "echo z | dd of=F conv=notrunc status=none"`, '-rwxrw-rwx', '65534'],
      ['6777', `root:${NOBODY_FSETID} sh -c "echo z | dd of=F conv=notrunc status=none"`, '-rwsrwsrwx'],
    ];
    for (const [i, [mode, action, want, group = '0']] of cases.entries()) {
      const f = `setid/f${i}`;
      expect((await sh(`echo hi > ${f} && chgrp ${group} ${f} && chmod ${mode} ${f}`, m)).code).toBe(0);
      const cmd = action.replace(/^root:/, '').replaceAll('F', f);
      const r = action.startsWith('root:') ? await sh(cmd, m) : await asNobody(cmd);
      expect(r.stdout, `${mode} ${action}`).not.toMatch(/denied|not permitted/);
      expect((await sh(`stat -c %A ${f}`, m)).stdout.trim(), `${mode} ${action}`).toBe(want);
    }
    // another user's chown(-1, -1) of a setuid program it may not write strips nothing (EPERM on ext4)
    expect((await sh('echo hi > setid/prog && chmod 4755 setid/prog', m)).code).toBe(0);
    await asNobody('python3 -c "import os; os.chown(\\"setid/prog\\", -1, -1)"');
    expect((await sh('stat -c %A setid/prog', m)).stdout.trim()).toBe('-rwsr-xr-x');
    expect(JSON.parse((await runCli(['fs', 'stat', 'px', '/setid/prog', '--json'], { cwd: tmp.dir })).stdout).mode).toBe('04755');
    // a user's fallocate and write through descriptors opened before the owner made the files
    // setuid and took away their write permission: the bits go, and stat shows it at once
    const oldFd = await sh(
      `cd setid && for f in ofa ofw; do head -c 8192 /dev/zero > $f; chmod 666 $f; done
      cat > of.py <<'PY'
import os, time
a, w = os.open("ofa", os.O_WRONLY), os.open("ofw", os.O_WRONLY)
open("ready", "w").close()
while not os.path.exists("go"):
    time.sleep(0.01)
os.posix_fallocate(a, 0, 16384)
os.pwrite(w, b"z", 0)
PY
      setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'python3 -c "$(cat of.py)"' &
      for _ in $(seq 1000); do [ -e ready ] && break; sleep 0.01; done
      chmod 4755 ofa ofw && stat ofa ofw > /dev/null && touch go && wait $! && stat -c %A ofa ofw`,
      m,
    );
    expect(oldFd.stdout, oldFd.stderr).toBe('-rwxr-xr-x\n-rwxr-xr-x\n');
    // the appended data is there, and the mode is stored (a fresh mount reads it back)
    expect((await sh('cat setid/f1', m)).stdout).toBe('hi\nz\n');
    const stored = await runCli(['fs', 'stat', 'px', '/setid/f2', '--json'], { cwd: tmp.dir });
    expect(JSON.parse(stored.stdout).mode).toBe('0777');
  });
});

describe('--uid / --gid', () => {
  it('reports every file as owned by the given ids', async () => {
    const m2 = join(tmp.dir, 'mnt-uid');
    mkdirSync(m2);
    const pid2 = await mountBg('px', m2, ['--uid', '1234', '--gid', '4321'], tmp.dir);
    try {
      const r = await sh('stat -c "%u %g" . perm/open/n.txt', m2);
      expect(r.stdout).toBe('1234 4321\n1234 4321\n');
    } finally {
      await forceUnmount(m2, pid2);
    }
  });
});
