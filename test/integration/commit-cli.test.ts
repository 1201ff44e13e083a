import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run, runCli, tempDir } from '../support/cli.js';

let tmp: { dir: string; cleanup: () => void };
let proj: string;
let env: NodeJS.ProcessEnv;

const sandbox = (session: string, script: string) => runCli(['run', '--session', session, '--', 'sh', '-c', script], { cwd: proj, env });
const cli = (...args: string[]) => runCli(args, { cwd: proj, env });

beforeEach(() => {
  tmp = tempDir('agentfs-commit-');
  proj = join(tmp.dir, 'proj');
  mkdirSync(join(proj, 'src'), { recursive: true });
  writeFileSync(join(proj, 'keep.txt'), 'keep\n');
  writeFileSync(join(proj, 'edit.txt'), 'one\n');
  writeFileSync(join(proj, 'src/old.js'), 'old\n');
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
});
afterEach(() => tmp.cleanup());

describe('agentfs diff / commit / discard', () => {
  it('commit applies exactly the diff: the base becomes what the sandbox saw', async () => {
    const r = await sandbox('s1', 'echo two >> edit.txt && rm src/old.js && mv src lib && mkdir -p docs && echo d > docs/x.md && ln -s keep.txt k && chmod 700 keep.txt');
    expect(r.code).toBe(0);
    const seen = await sandbox('s1', 'find . -type f -printf "%p %M %s\\n" -o -printf "%p %M\\n" | sort; cat edit.txt docs/x.md');
    const diff = await cli('diff', 's1');
    const stat = await cli('diff', 's1', '--stat');
    expect(stat.stdout).toContain('added:');
    const patch = await cli('diff', 's1', '--patch');
    expect(patch.stdout).toContain('+two');
    const json = JSON.parse((await cli('diff', 's1', '--json')).stdout) as { changes: { path: string; status: string }[] };
    expect(json.changes.length).toBe(diff.stdout.trim().split('\n').length);

    const dry = await cli('commit', 's1', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would be written');
    expect(existsSync(join(proj, 'docs'))).toBe(false);

    const c = await cli('commit', 's1');
    expect(c.code).toBe(0);
    // commit prints exactly the changes diff listed
    expect(c.stdout.trim().split('\n').slice(0, -1).join('\n')).toBe(diff.stdout.trim());
    const outside = await runCli(['run', '--', 'sh', '-c', 'find . -type f -printf "%p %M %s\\n" -o -printf "%p %M\\n" | sort; cat edit.txt docs/x.md'], { cwd: proj, env });
    expect(outside.stdout).toBe(seen.stdout);
    expect((await cli('diff', 's1')).stdout).toBe('');
    expect(readFileSync(join(proj, 'edit.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(existsSync(join(proj, 'lib'))).toBe(true);
    expect(existsSync(join(proj, 'src'))).toBe(false);
  });

  it('after a commit the session shows what it wrote: a second commit keeps it (a directory made again, one moved into a new one)', async () => {
    // the hostile pass: both directories kept a record hiding what the commit wrote, diff listed it
    // as deleted, and the next commit deleted it from the host
    mkdirSync(join(proj, 'e', 'sub'), { recursive: true });
    writeFileSync(join(proj, 'e', 'sub', 'x'), 'x\n');
    expect((await sandbox('s9', 'rm -rf src && mkdir src && echo new > src/h && mkdir Y && mv e Y/e')).code).toBe(0);
    expect((await cli('commit', 's9')).code).toBe(0);
    expect(readFileSync(join(proj, 'src/h'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(proj, 'Y/e/sub/x'), 'utf8')).toBe('x\n');
    expect((await cli('diff', 's9')).stdout).toBe('');
    const seen = await sandbox('s9', 'ls src Y/e/sub');
    expect(seen.stdout).toContain('h');
    expect(seen.stdout).toContain('x');
    const again = await cli('commit', 's9');
    expect(again.code).toBe(0);
    expect(readFileSync(join(proj, 'src/h'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(proj, 'Y/e/sub/x'), 'utf8')).toBe('x\n');
    expect(existsSync(join(proj, 'src/old.js'))).toBe(false);
  });

  it('an edit through one name of a hard-linked file reaches every name, as the sandbox showed it', async () => {
    // the copy-up lands under the name last looked up (b here), not the one written through (a):
    // committing b alone left a (and sub/c) with the old content
    writeFileSync(join(proj, 'a'), 'orig\n');
    linkSync(join(proj, 'a'), join(proj, 'b'));
    linkSync(join(proj, 'a'), join(proj, 'src/c'));
    linkSync(join(proj, 'a'), join(tmp.dir, 'store-link')); // a link outside the base keeps its content
    const r = await sandbox('hl', 'cat a >/dev/null; ls -l b >/dev/null; exec 3>>a; ls -l b >/dev/null; echo new >&3; cat a b src/c');
    expect(r.stdout).toBe('orig\nnew\n'.repeat(3));
    const diff = await cli('diff', 'hl');
    expect(diff.stdout.split('\n').filter((l) => l.startsWith('M')).sort()).toEqual(['M file    a', 'M file    b', 'M file    src/c']);
    const json = JSON.parse((await cli('diff', 'hl', '--json')).stdout) as { changes: { path: string; linkedFrom?: string }[] };
    expect(json.changes.filter((c) => c.linkedFrom).length).toBe(2);
    // a commit of one name takes the others with it: they show the same copy
    const c = await cli('commit', 'hl', 'b');
    expect(c.code, c.stderr).toBe(0);
    for (const n of ['a', 'b', 'src/c']) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\nnew\n');
    expect(readFileSync(join(tmp.dir, 'store-link'), 'utf8')).toBe('orig\n');
    expect((await cli('diff', 'hl')).stdout).toBe('');
    // discarding one name brings the base back under all of them (the copy goes)
    writeFileSync(join(proj, 'x'), 'base\n');
    linkSync(join(proj, 'x'), join(proj, 'y'));
    await sandbox('hl3', 'exec 3>>x; cat y >/dev/null; echo more >&3'); // the copy lands under y
    expect((await cli('diff', 'hl3', 'x')).stdout).toContain('M file    x');
    const d = await cli('discard', 'hl3', 'x');
    expect(d.code, d.stderr).toBe(0);
    expect((await cli('diff', 'hl3')).stdout).toBe('');
    expect((await sandbox('hl3', 'cat x y')).stdout).toBe('base\nbase\n');
    // a name replaced in the sandbox is its own change, not another name of the copy
    writeFileSync(join(proj, 'p'), 'one\n');
    linkSync(join(proj, 'p'), join(proj, 'q'));
    await sandbox('hl2', 'rm q && echo other > q && echo more >> p');
    expect((await cli('commit', 'hl2')).code).toBe(0);
    expect(readFileSync(join(proj, 'p'), 'utf8')).toBe('one\nmore\n');
    expect(readFileSync(join(proj, 'q'), 'utf8')).toBe('other\n');
  });

  it('a scoped diff or commit of any one name of a hard-linked copy takes all its names', async () => {
    // the copy sits under a; a commit of src/c wrote src/c alone and a, b kept showing the copy
    writeFileSync(join(proj, 'a'), 'orig\n');
    linkSync(join(proj, 'a'), join(proj, 'b'));
    linkSync(join(proj, 'a'), join(proj, 'src/c'));
    await sandbox('hs', 'exec 3>>b; cat a >/dev/null; echo new >&3');
    const names = ['M file    a', 'M file    b', 'M file    src/c'];
    for (const n of ['a', 'b', 'src/c', 'src']) expect((await cli('diff', 'hs', n)).stdout.split('\n').filter(Boolean), n).toEqual(names);
    const c = await cli('commit', 'hs', 'src/c');
    expect(c.code, c.stderr).toBe(0);
    for (const n of ['a', 'b', 'src/c']) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\nnew\n');
    expect((await cli('diff', 'hs')).stdout).toBe('');
  });

  it.skipIf(process.getuid?.() !== 0)('bind mounts of a base directory inside the base hide no name of a hard-linked copy', async () => {
    // the names seen again through each bind counted as other links, and the walk for them
    // stopped before reaching the rest (p1..p8 kept the old content)
    writeFileSync(join(proj, 'src/c'), 'orig\n');
    linkSync(join(proj, 'src/c'), join(proj, 'a0'));
    const names = ['a0', 'src/c'];
    for (let i = 1; i <= 8; i++) {
      mkdirSync(join(proj, `p${i}`));
      linkSync(join(proj, 'src/c'), join(proj, `p${i}/e`));
      names.push(`p${i}/e`);
    }
    const binds: string[] = [];
    try {
      for (let i = 1; i <= 6; i++) {
        const x = join(proj, `x${i}`);
        mkdirSync(x);
        expect((await run('mount', ['--bind', join(proj, 'src'), x])).code).toBe(0);
        binds.push(x);
      }
      await sandbox('hb', 'echo new >> a0');
      const c = await cli('commit', 'hb');
      expect(c.code, c.stderr).toBe(0);
      for (const n of names) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\nnew\n');
    } finally {
      for (const x of binds) await run('umount', [x]);
    }
  });

  it('a hard link in a directory moved in the sandbox: a scoped commit of another name is refused, or takes the move along', async () => {
    // src/c shows the copy from srcX (moved): committing a alone dropped the copy, and srcX/c
    // showed the old content again; a new directory above a name taken along was not made first
    writeFileSync(join(proj, 'a'), 'orig\n');
    linkSync(join(proj, 'a'), join(proj, 'b'));
    linkSync(join(proj, 'a'), join(proj, 'src/c'));
    await sandbox('hm', 'echo new >> a && mv src srcX');
    expect((await cli('diff', 'hm', 'a')).stdout.split('\n').filter(Boolean)).toEqual(['M file    a', 'M file    b', 'A file    srcX/c']);
    const refused = await cli('commit', 'hm', 'a');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^agentfs: \/srcX\/c, a hard link of \/a, is in \/srcX, moved from \/src .*commit both places/);
    for (const n of ['a', 'b', 'src/c']) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\n');
    expect((await sandbox('hm', 'cat srcX/c')).stdout).toBe('orig\nnew\n');
    const c = await cli('commit', 'hm', 'a', 'src', 'srcX');
    expect(c.code, c.stderr).toBe(0);
    for (const n of ['a', 'b', 'srcX/c']) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\nnew\n');
    expect((await cli('diff', 'hm')).stdout).toBe('');
    // the copy renamed into a new directory, committed through another name
    writeFileSync(join(proj, 'p'), 'one\n');
    linkSync(join(proj, 'p'), join(proj, 'q'));
    await sandbox('hn', 'mkdir nd && echo more >> p && mv p nd/z');
    const n = await cli('commit', 'hn', 'q');
    expect(n.code, n.stderr).toBe(0);
    for (const f of ['q', 'nd/z']) expect(readFileSync(join(proj, f), 'utf8'), f).toBe('one\nmore\n');
    expect((await cli('diff', 'hn')).stdout).toBe('D file    p\n');
  });

  it('the other names of a hard-linked copy renamed in the sandbox are committed with it', async () => {
    // the copy left its base name (an A now, not an M): b and src/c showed it and kept the old content
    writeFileSync(join(proj, 'a'), 'orig\n');
    linkSync(join(proj, 'a'), join(proj, 'b'));
    linkSync(join(proj, 'a'), join(proj, 'src/c'));
    const r = await sandbox('hr', 'echo new >> a && mv a z && cat b src/c z');
    expect(r.stdout).toBe('orig\nnew\n'.repeat(3));
    const diff = await cli('diff', 'hr');
    expect(diff.stdout.split('\n').filter(Boolean)).toEqual(['D file    a', 'M file    b', 'M file    src/c', 'A file    z']);
    const c = await cli('commit', 'hr', 'z');
    expect(c.code, c.stderr).toBe(0);
    for (const n of ['b', 'src/c', 'z']) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\nnew\n');
    expect((await cli('diff', 'hr')).stdout).toBe('D file    a\n');
  });

  it('a hard-linked copy whose own name was replaced on the host still reaches the other names', async () => {
    // what a commit killed after writing the copy's own name leaves (or a host edit, with --force):
    // the other names still show the copy, but only that name was listed and written again
    writeFileSync(join(proj, 'a'), 'orig\n');
    linkSync(join(proj, 'a'), join(proj, 'b'));
    linkSync(join(proj, 'a'), join(proj, 'src/c'));
    await sandbox('hk', 'exec 3>>a; cat b >/dev/null; echo new >&3'); // the copy lands under b
    writeFileSync(join(proj, 'b.tmp'), 'orig\nnew\n');
    renameSync(join(proj, 'b.tmp'), join(proj, 'b'));
    expect((await sandbox('hk', 'cat a b src/c')).stdout).toBe('orig\nnew\n'.repeat(3));
    expect((await cli('diff', 'hk')).stdout.split('\n').filter(Boolean)).toEqual(['M file    a', 'M file    b', 'M file    src/c']);
    const c = await cli('commit', 'hk');
    expect(c.code, c.stderr).toBe(0);
    for (const n of ['a', 'b', 'src/c']) expect(readFileSync(join(proj, n), 'utf8'), n).toBe('orig\nnew\n');
    expect((await cli('diff', 'hk')).stdout).toBe('');
  });

  it.skipIf(process.getuid?.() !== 0)('hard links on a file system mounted inside the base are all committed', async () => {
    // there a name shows the copy only while the copy's own name still is the base file: writing
    // that name first made the others (read after it) write their old content back
    const m = join(proj, 'm');
    mkdirSync(m);
    expect((await run('mount', ['-t', 'tmpfs', 'tmpfs', m])).code).toBe(0);
    try {
      mkdirSync(join(m, 'sub'));
      writeFileSync(join(m, 'a'), 'orig\n');
      linkSync(join(m, 'a'), join(m, 'b'));
      linkSync(join(m, 'a'), join(m, 'sub/c'));
      expect((await sandbox('ht', 'echo new >> m/a && cat m/a m/b m/sub/c')).stdout).toBe('orig\nnew\n'.repeat(3));
      expect((await cli('diff', 'ht')).stdout.split('\n').filter(Boolean)).toEqual(['M file    m/a', 'M file    m/b', 'M file    m/sub/c']);
      const c = await cli('commit', 'ht');
      expect(c.code, c.stderr).toBe(0);
      for (const n of ['a', 'b', 'sub/c']) expect(readFileSync(join(m, n), 'utf8'), n).toBe('orig\nnew\n');
      expect((await cli('diff', 'ht')).stdout).toBe('');
    } finally {
      await run('umount', [m]);
    }
  });

  it('a scoped commit naming both places of a moved directory commits the move', async () => {
    // it was refused with 'commit the new location together with it', though it was named
    await sandbox('mv', 'mv src lib');
    const c = await cli('commit', 'mv', 'src', 'lib');
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(join(proj, 'lib/old.js'), 'utf8')).toBe('old\n');
    expect(existsSync(join(proj, 'src'))).toBe(false);
    expect((await cli('diff', 'mv')).stdout).toBe('');
  });

  it('a scoped commit of a file in a moved directory is refused unless it names both places', async () => {
    // srcX shows src: written alone, srcX/old.js was cleared from the agent and showed the old
    // content again, and committing everything then wrote that old content over the new
    await sandbox('mf', 'echo new >> src/old.js && mv src srcX');
    const r = await cli('commit', 'mf', 'srcX/old.js');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: \/srcX\/old\.js is in \/srcX, moved from \/src in this session; commit both places/);
    expect(existsSync(join(proj, 'srcX'))).toBe(false);
    expect((await sandbox('mf', 'cat srcX/old.js')).stdout).toBe('old\nnew\n');
    const c = await cli('commit', 'mf', 'srcX/old.js', 'src', 'srcX');
    expect(c.code, c.stderr).toBe(0);
    expect(readFileSync(join(proj, 'srcX/old.js'), 'utf8')).toBe('old\nnew\n');
    expect((await cli('diff', 'mf')).stdout).toBe('');
  });

  it('a host edit of a file deleted in a directory the sandbox moved stops the commit; with none, the move commits', async () => {
    // the record sat at the new place, the diff named the old one: the edit went with the deletion
    writeFileSync(join(proj, 'src/gone.js'), 'gone\n');
    expect((await sandbox('mvd', 'mv src lib && rm lib/gone.js && echo f > src')).code).toBe(0);
    writeFileSync(join(proj, 'src/gone.js'), 'host edit\n');
    const c = await cli('commit', 'mvd');
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('conflict: src/gone.js: changed in the base after it was deleted here');
    expect(readFileSync(join(proj, 'src/gone.js'), 'utf8')).toBe('host edit\n');
    // the same without the host edit: the directory moves (a file took its old place, which
    // removed it before its contents were written to the new place)
    expect((await cli('discard', 'mvd')).code).toBe(0);
    writeFileSync(join(proj, 'src/gone.js'), 'gone\n');
    expect((await sandbox('mvd', 'mv src lib && rm lib/gone.js && echo f > src')).code).toBe(0);
    const ok = await cli('commit', 'mvd');
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(proj, 'lib/old.js'), 'utf8')).toBe('old\n');
    expect(readFileSync(join(proj, 'src'), 'utf8')).toBe('f\n');
    expect(existsSync(join(proj, 'lib/gone.js'))).toBe(false);
    expect((await cli('diff', 'mvd')).stdout).toBe('');
  });

  it('reports a conflict when the base changed since copy-up, and --force overwrites', async () => {
    await sandbox('s2', 'echo mine > edit.txt');
    writeFileSync(join(proj, 'edit.txt'), 'theirs\n');
    // the dry run says what the commit will: the conflict, nothing written, exit 1
    const dry = await cli('commit', 's2', '--dry-run');
    expect(dry.code).toBe(1);
    expect(dry.stderr).toContain('conflict: edit.txt: changed in the base since it was copied up');
    expect(dry.stderr).toMatch(/^agentfs: 1 conflict with the base; a commit would write nothing \(use --force/m);
    const c = await cli('commit', 's2');
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('conflict: edit.txt: changed in the base since it was copied up');
    expect(c.stderr).toMatch(/^agentfs: 1 conflict with the base; nothing committed/m);
    expect(readFileSync(join(proj, 'edit.txt'), 'utf8')).toBe('theirs\n');
    const f = await cli('commit', 's2', '--force');
    expect(f.code).toBe(0);
    expect(readFileSync(join(proj, 'edit.txt'), 'utf8')).toBe('mine\n');
  });

  it('reports a conflict where the host put a file at a directory the sandbox changed or made', async () => {
    await sandbox('sdir', 'chmod 700 src && mkdir made');
    rmSync(join(proj, 'src'), { recursive: true });
    writeFileSync(join(proj, 'src'), 'host data\n');
    writeFileSync(join(proj, 'made'), 'host too\n');
    const c = await cli('commit', 'sdir');
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('conflict: src: replaced in the base by a non-directory');
    expect(c.stderr).toContain('conflict: made: replaced in the base by a non-directory');
    expect(readFileSync(join(proj, 'src'), 'utf8')).toBe('host data\n');
    expect(readFileSync(join(proj, 'made'), 'utf8')).toBe('host too\n');
  });

  // found by the hostile pass: the copy-up of the directories above a file ran before the read of
  // the file failed, and stayed; the session then showed those directories as they were
  it('a first append that fails leaves the directories above the file as the host has them', async () => {
    chmodSync(tmp.dir, 0o755);
    chmodSync(proj, 0o755);
    mkdirSync(join(proj, 'a/b'), { recursive: true });
    // the sandbox's user may write this file but not read it: its copy-up cannot be made
    writeFileSync(join(proj, 'a/b/wo'), 'base\n');
    chmodSync(join(proj, 'a/b/wo'), 0o622);
    const home = join(tmp.dir, 'home-nobody');
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    const asNobody = (script: string) =>
      run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'run', '--session', 'nb', '--', 'sh', '-c', script], {
        cwd: proj,
        env: { AGENTFS_HOME: home },
      });
    const r = await asNobody('echo x >> a/b/wo; echo rc=$?');
    expect(r.stdout).toMatch(/rc=[1-9]/);
    chmodSync(join(proj, 'a'), 0o751);
    expect((await asNobody('stat -c %a a')).stdout.trim()).toBe('751');
    expect(readFileSync(join(proj, 'a/b/wo'), 'utf8')).toBe('base\n');
  });

  it('commits chosen paths only; discard drops the rest', async () => {
    await sandbox('s3', 'echo new > a.txt && echo new > b.txt && rm keep.txt');
    const c = await cli('commit', 's3', 'a.txt');
    expect(c.code).toBe(0);
    expect(existsSync(join(proj, 'a.txt'))).toBe(true);
    expect(existsSync(join(proj, 'b.txt'))).toBe(false);
    const d = await cli('discard', 's3', 'keep.txt');
    expect(d.stdout).toContain('D file    keep.txt');
    expect((await cli('diff', 's3')).stdout).toBe('A file    b.txt\n');
    await cli('discard', 's3');
    expect((await cli('diff', 's3')).stdout).toBe('');
    expect(existsSync(join(proj, 'keep.txt'))).toBe(true);
  });

  it('refuses while the session is running, and explains bad ids', async () => {
    const live = spawn(process.execPath, [CLI, 'run', '--session', 's4', '--', 'sleep', '20'], { cwd: proj, env: { ...process.env, ...env }, stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(join(env.AGENTFS_HOME!, 'sessions', 's4.server.json')); i++) await new Promise((r) => setTimeout(r, 50));
      const c = await cli('commit', 's4');
      expect(c.code).toBe(1);
      expect(c.stderr).toMatch(/^agentfs: session s4 is running/);
    } finally {
      live.kill('SIGTERM');
      await new Promise((r) => live.on('close', r));
    }
    const bad = await cli('diff', 'no-such-session');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    await runCli(['init', 'plain'], { cwd: proj, env });
    const plain = await cli('diff', 'plain');
    expect(plain.stderr).toMatch(/^agentfs: plain is not an overlay agent/);
  });

  it('an interrupted commit finishes when run again, without loss', async () => {
    const files = 1500;
    await sandbox('s5', `node -e "const fs=require('fs');fs.mkdirSync('many');for(let i=0;i<${files};i++)fs.writeFileSync('many/f'+i,require('crypto').randomBytes(2048))"`);
    const seen = await sandbox('s5', 'cd many && cat $(ls | sort) | sha256sum');
    const child = spawn(process.execPath, [CLI, 'commit', 's5'], { cwd: proj, env: { ...process.env, ...env }, stdio: 'ignore' });
    // kill it once some files have reached the base
    for (let i = 0; i < 400; i++) {
      if (existsSync(join(proj, 'many')) && readdirSync(join(proj, 'many')).length > 50) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const partial = existsSync(join(proj, 'many')) ? readdirSync(join(proj, 'many')).filter((f) => !f.startsWith('.agentfs-commit')).length : 0;
    expect(partial).toBeLessThan(files);
    const again = await cli('commit', 's5');
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(readdirSync(join(proj, 'many')).filter((f) => f.startsWith('f')).length).toBe(files);
    const check = await runCli(['run', '--', 'sh', '-c', 'cd many && cat $(ls | grep "^f" | sort) | sha256sum'], { cwd: proj, env });
    expect(check.stdout).toBe(seen.stdout);
    expect((await cli('diff', 's5')).stdout).toBe('');
    // and the agent let go of what it applied
    const ps = JSON.parse((await cli('ps', '--json')).stdout) as { session: string; database: string }[];
    const db = ps.find((r) => r.session === 's5')!.database;
    const { default: Database } = await import('libsql');
    const conn = new Database(db);
    try {
      expect((conn.prepare('SELECT COUNT(*) AS n FROM fs_dentry').get() as { n: number }).n).toBe(0);
    } finally {
      conn.close();
    }
  });
});
