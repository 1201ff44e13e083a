// In `agentfs run`, directories that are exactly host directories are listed by the addon
// (native/host_files.cc HostFiles::readdir) while the overlay has no whiteouts: each case here
// compares what the sandbox lists with the host (or with what the change made), and checks that
// the addon did list them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir } from '../support/cli.js';

let tmp: { dir: string; cleanup: () => void };

beforeAll(() => {
  tmp = tempDir('agentfs-hostlist-');
});
afterAll(() => tmp.cleanup());

/** Runs `script` in a new sandbox over `proj`; stdout, and how many READDIRPLUS, OPENDIR and LOOKUP JavaScript served. */
function runIn(
  proj: string,
  script: string,
  env: NodeJS.ProcessEnv = {},
  session?: string,
): { out: string; jsListings: number; jsOpens: number; jsLookups: number; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', ...(session ? ['--session', session] : []), '--', 'sh', '-c', script], {
    cwd: proj,
    env: { ...process.env, AGENTFS_HOME: join(tmp.dir, 'home'), AGENTFS_FUSE_STATS: '1', ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  expect(r.status, r.stderr).toBe(0);
  const count = (op: string) => Number(new RegExp(`fuse ${op}: (\\d+) requests`).exec(r.stderr)?.[1] ?? 0);
  return { out: r.stdout, jsListings: count('READDIRPLUS'), jsOpens: count('OPENDIR'), jsLookups: count('LOOKUP'), err: r.stderr };
}

/** Listing pages of host directories the addon served (AGENTFS_FUSE_STATS). */
function pages(err: string): number {
  return Number(/\((\d+) listing pages\)/.exec(err)?.[1] ?? NaN);
}

/** Every entry below `.` with what a listing and an lstat show of it, sorted (the root left out: it is the delta's). */
const FIND = `find . -mindepth 1 -printf '%p %i %y %m %s %n %l %T@\\n' | LC_ALL=C sort`;

function hostFind(dir: string): string {
  const r = spawnSync('sh', ['-c', FIND], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.stdout;
}

/** A project of 20 directories d0..d19 of 5 files f0..f4 each. */
function twentyDirs(name: string): string {
  const proj = join(tmp.dir, name);
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(proj, `d${d}`), { recursive: true });
    for (let f = 0; f < 5; f++) writeFileSync(join(proj, `d${d}`, `f${f}`), `${d}/${f}\n`);
  }
  return proj;
}
const DIRS = Array.from({ length: 20 }, (_, d) => `d${d}`).join(' ');
// Each of twentyDirs' directories listed (the addon opens and lists it), then a file in it copied
// up, within one period of the listings' age (run: 30 s), whose end changes every key.
// The pause after: the copy-ups' group commit (10 ms) closed, whose open group sends every
// request to JavaScript (FUSE, group commit), so that the opens counted after it are the addon's
// to take (on a fast machine the first few `ls` fell inside the group: 5-7 JavaScript opens).
const LISTED_THEN_COPIED = `while [ $(( $(date +%s) % 30 )) -gt 20 ]; do sleep 1; done
  for d in ${DIRS}; do ls $d >/dev/null; echo edited >> $d/f0; done
  sleep 0.1`;

describe('agentfs run: host directories listed natively', () => {
  it('lists every kind of entry as the host does, in big directories too, and the addon listed them', () => {
    const proj = join(tmp.dir, 'kinds');
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(proj, `d${d}`, 'inner'), { recursive: true });
      for (let f = 0; f < 30; f++) writeFileSync(join(proj, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(f));
      writeFileSync(join(proj, `d${d}`, 'inner', 'x'), 'x');
    }
    symlinkSync('f1.txt', join(proj, 'd0', 'link'));
    symlinkSync('nowhere', join(proj, 'd0', 'dangling'));
    spawnSync('mkfifo', [join(proj, 'd1', 'fifo')]);
    writeFileSync(join(proj, 'd2', 'caf\u00e9 \ufffd \u{1f600} \uffef'), 'u');
    writeFileSync(join(proj, 'd2', 'n'.repeat(255)), 'long');
    linkSync(join(proj, 'd3', 'f1.txt'), join(proj, 'd3', 'hard')); // a hard link: JavaScript lists d3
    mkdirSync(join(proj, 'paged'));
    for (let i = 0; i < 3000; i++) writeFileSync(join(proj, 'paged', `entry-with-a-longer-name-${i}`), '');
    mkdirSync(join(proj, 'huge'));
    for (let i = 0; i < 5000; i++) writeFileSync(join(proj, 'huge', `h${i}`), ''); // past the addon's limit
    const want = hostFind(proj);
    const r = runIn(proj, FIND);
    expect(r.out.split('\n').length).toBe(want.split('\n').length);
    expect(r.out).toBe(want);
    // JavaScript listed the root, d3 (a hard link in it) and huge: every other directory was the addon's
    expect(r.jsListings).toBeGreaterThan(0);
    expect(r.jsListings).toBeLessThan(20);
    // and opened them: all but the root (the delta's) and the directories too big for the addon
    // to list (paged, huge), whose handles keep JavaScript's listing between pages
    expect(r.jsOpens).toBeGreaterThan(0);
    expect(r.jsOpens).toBeLessThan(5);
    // and looked up their names (the entries of huge, listed by plain READDIR pages, among them),
    // but for the hard links (d3/f1.txt and d3/hard)
    expect(r.jsLookups).toBeLessThan(10);
  });

  it('a listing the addon opened stays cached by the kernel when its directory is opened after a copy-up into it', () => {
    // The addon opened each directory first: JavaScript, not told which listing the kernel then
    // held, sent it again for every directory holding a copy (git status after edits: 150 ms
    // instead of 85). The addon now opens those too (the next case).
    const r = runIn(twentyDirs('kept'), `${LISTED_THEN_COPIED}
      for d in ${DIRS}; do ls $d; done`);
    expect(r.out.split('\n').filter(Boolean)).toHaveLength(100);
    const listings = (op: string) => Number(new RegExp(`fuse ${op}: (\\d+) requests`).exec(r.err)?.[1] ?? 0);
    // the 20 directories holding a copy were opened again (by the addon, the key carried over
    // with the copy-up: JavaScript opens a few at most) and listed none of them again
    expect(r.jsOpens).toBeLessThan(5);
    expect(listings('READDIRPLUS') + listings('READDIR')).toBeLessThan(5);
  });

  it('opens a directory holding a copy itself while the key of its listing holds, and what changes it lists anew', () => {
    // A directory copied up keeps its host listing's key (native/host_files.cc forget), checked
    // against the delta's row: its opens were JavaScript's, ~75 us each (git status after edits:
    // ~100 of them).
    const script = `${LISTED_THEN_COPIED}
      for r in 1 2 3; do for d in ${DIRS}; do ls $d; done; done
      echo ---
      touch d0/new; rm d1/f1; mv d2/f2 d3/moved; mkdir d4/sub
      ls d0 d1 d2 d3 d4; cat d5/f0`;
    const r = runIn(twentyDirs('delta-dirs'), script);
    const [before, after] = r.out.split('---\n');
    expect(before.split('\n').filter(Boolean)).toHaveLength(300);
    expect(after).toBe(
      ['d0:', 'f0', 'f1', 'f2', 'f3', 'f4', 'new', '', 'd1:', 'f0', 'f2', 'f3', 'f4', '', 'd2:', 'f0', 'f1', 'f3', 'f4', '',
        'd3:', 'f0', 'f1', 'f2', 'f3', 'f4', 'moved', '', 'd4:', 'f0', 'f1', 'f2', 'f3', 'f4', 'sub', '5/0', 'edited', ''].join('\n'),
    );
    const listings = (op: string) => Number(new RegExp(`fuse ${op}: (\\d+) requests`).exec(r.err)?.[1] ?? 0);
    // the 60 opens after the copy-ups were the addon's (JavaScript's alone: 60 and more), and
    // the kernel listed none of those directories again until they changed
    expect(r.jsOpens).toBeLessThan(15);
    expect(listings('READDIRPLUS') + listings('READDIR')).toBeLessThan(12);
  });

  it('keeps a settled host directory\'s listing past the listing age, and lists a host change at once', () => {
    // Two projects whose directories' ctimes have settled (native/host_files.h LISTING_SETTLED_MS)
    const proj = twentyDirs('settled');
    const copied = twentyDirs('settled-copied');
    spawnSync('sleep', ['3.2']);
    // A 1 s age (AGENTFS_RUN_HOST_CACHE_S): the second listing comes two periods after the first.
    // The host adds a file to d5 between them (a helper of this test, told by a flag outside the
    // project, which the sandbox reaches as the host's).
    const [flag, ack] = [join(tmp.dir, 'settled.flag'), join(tmp.dir, 'settled.ack')];
    const helper = spawn('sh', ['-c', `while [ ! -e '${flag}' ]; do sleep 0.02; done; touch '${join(proj, 'd5', 'new')}'; touch '${ack}'`], { stdio: 'ignore' });
    try {
      const listAll = `for d in ${DIRS}; do ls $d; done`;
      const r = runIn(proj, `${listAll} >/dev/null; touch '${flag}'; while [ ! -e '${ack}' ]; do sleep 0.02; done; sleep 2.2; ${listAll}`, { AGENTFS_RUN_HOST_CACHE_S: '1' });
      expect(r.out.split('\n').filter(Boolean)).toHaveLength(101);
      expect(r.out).toContain('f4\nnew\n');
      // 20 listings of two pages each (the entries, then the empty one that ends a listing), then
      // d5's again: the others were kept (when each period's end dropped them all: 80)
      expect(pages(r.err)).toBeGreaterThanOrEqual(40);
      expect(pages(r.err)).toBeLessThanOrEqual(44);
    } finally {
      if (helper.exitCode === null) helper.kill('SIGKILL');
    }
    // Settled listings copied up hold as a copy's (for the period): listed again, none is fetched again
    const k = runIn(copied, `${LISTED_THEN_COPIED}
      for d in ${DIRS}; do ls $d; done`);
    expect(k.out.split('\n').filter(Boolean)).toHaveLength(100);
    expect(pages(k.err)).toBe(40);
    expect(k.jsListings).toBeLessThan(5);
  });

  // bindfs --ctime-from-mtime reports the mtime as ctime (as sshfs does): a change whose mtime
  // `touch -r` puts back leaves both times as they were, so only the age can show it. The same
  // under a kernel overlay (its lower-only directories show the lower layer's times)
  for (const overlay of [false, true]) {
    it(`on a base whose ctime follows its mtime${overlay ? ', under a kernel overlay' : ''}, a listing holds only for the age: a change with the mtime set back shows`, async () => {
      const name = overlay ? 'cfm-ovl' : 'cfm';
      const src = join(tmp.dir, `${name}-src`);
      const fuse = join(tmp.dir, name);
      const [upper, work, merged] = ['upper', 'work', 'merged'].map((n) => join(tmp.dir, `${name}-${n}`));
      mkdirSync(join(src, 'd'), { recursive: true });
      for (const dir of [fuse, upper, work, merged]) mkdirSync(dir);
      for (const n of ['a', 'b', 'ref']) writeFileSync(join(src, 'd', n), n);
      const bindfs = spawn('bindfs', ['-f', '--ctime-from-mtime', '--no-allow-other', src, fuse], { stdio: 'ignore' });
      const base = overlay ? merged : fuse;
      try {
        for (let i = 0; i < 200 && !readFileSync('/proc/mounts', 'utf8').includes(` ${fuse} `); i++) await new Promise((r) => setTimeout(r, 25));
        if (overlay) {
          const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${fuse},upperdir=${upper},workdir=${work}`, merged], { encoding: 'utf8' });
          expect(m.status, m.stderr).toBe(0);
        }
        spawnSync('touch', ['-r', join(src, 'd', 'ref'), join(src, 'd')]);
        spawnSync('sleep', ['3.2']); // settled, were ctimes kept
        const [flag, ack] = [join(tmp.dir, `${name}.flag`), join(tmp.dir, `${name}.ack`)];
        const d = join(src, 'd');
        const helper = spawn('sh', ['-c', `while [ ! -e '${flag}' ]; do sleep 0.02; done; touch '${d}/new'; rm '${d}/a'; touch -r '${d}/ref' '${d}'; touch '${ack}'`], { stdio: 'ignore' });
        try {
          const r = runIn(base, `ls d; touch '${flag}'; while [ ! -e '${ack}' ]; do sleep 0.02; done; sleep 2.2; echo ---; ls d`, { AGENTFS_RUN_HOST_CACHE_S: '1' });
          expect(r.out).toBe('a\nb\nref\n---\nb\nnew\nref\n');
        } finally {
          if (helper.exitCode === null) helper.kill('SIGKILL');
        }
      } finally {
        if (overlay) spawnSync('umount', [merged]);
        spawnSync('fusermount3', ['-u', fuse]);
        if (bindfs.exitCode === null) bindfs.kill('SIGKILL');
      }
    });
  }

  it('leaves out names that are not UTF-8, as JavaScript does', () => {
    const proj = join(tmp.dir, 'bytes');
    mkdirSync(join(proj, 'd'), { recursive: true });
    writeFileSync(join(proj, 'd', 'ok'), '1');
    writeFileSync(Buffer.from(join(proj, 'd', 'bad-\xff-name'), 'latin1'), '2');
    expect(runIn(proj, 'ls -a d').out).toBe('.\n..\nok\n');
  });

  it('what the sandbox changes after a native listing shows in every later listing and read', () => {
    const proj = join(tmp.dir, 'changes');
    mkdirSync(join(proj, 'a', 'b'), { recursive: true });
    for (const n of ['one', 'two', 'three']) writeFileSync(join(proj, 'a', n), `${n}\n`);
    writeFileSync(join(proj, 'a', 'b', 'deep'), 'deep\n');
    const script = [
      'find . >/dev/null',
      // a handle opened by the addon, changed through the handle (no path walk the kernel could
      // retry): JavaScript must know the node the listing handed out
      `python3 -c "import os; fd = os.open('a/three', os.O_RDONLY); os.fchmod(fd, 0o600); print(oct(os.fstat(fd).st_mode & 0o777))"`,
      'echo more >> a/b/deep',
      'mv a/one a/uno',
      'ls a',
      'cat a/b/deep',
      'rm a/two', // a whiteout: listings go back to JavaScript
      'ls a',
      'echo new > a/two', // the whiteout goes again
      'ls a',
      'find . -mindepth 1 | LC_ALL=C sort',
    ].join('; ');
    expect(runIn(proj, script).out).toBe(
      [
        '0o600',
        'b', 'three', 'two', 'uno',
        'deep', 'more',
        'b', 'three', 'uno',
        'b', 'three', 'two', 'uno',
        './a', './a/b', './a/b/deep', './a/three', './a/two', './a/uno',
        '',
      ].join('\n'),
    );
    // the host is untouched
    expect(hostFind(proj).split('\n').map((l) => l.split(' ')[0])).toEqual(['./a', './a/b', './a/b/deep', './a/one', './a/three', './a/two', '']);
  });

  it('names the addon looked up, with no listing first, behave as those JavaScript hands out', () => {
    const proj = join(tmp.dir, 'lookups');
    mkdirSync(join(proj, 'a', 'b'), { recursive: true });
    for (const n of ['one', 'two', 'three']) writeFileSync(join(proj, 'a', n), `${n}\n`);
    writeFileSync(join(proj, 'a', 'b', 'deep'), 'deep\n');
    for (let i = 0; i < 20; i++) writeFileSync(join(proj, 'a', 'b', `f${i}`), 'x'.repeat(i));
    mkdirSync(join(proj, 'sub'));
    writeFileSync(join(proj, 'sub', 'file'), 'f');
    const home = join(proj, 'sub', '.home');
    const host = (p: string) => {
      const st = statSync(join(proj, p));
      return `${st.ino} ${st.size} ${st.nlink} ${(st.mode & 0o777).toString(8)}`;
    };
    const script = [
      "stat -c '%i %s %h %a' a/b/deep a/three a/b",
      `python3 -c "import os; print(sum(os.stat(f'a/b/f{i}').st_size for i in range(20)))"`,
      // a handle opened on a looked-up name, changed through the handle
      `python3 -c "import os; fd = os.open('a/three', os.O_RDONLY); os.fchmod(fd, 0o600); print(oct(os.fstat(fd).st_mode & 0o777))"`,
      'echo more >> a/b/deep',
      'cat a/b/deep',
      'mv a/one a/uno',
      "stat -c '%n %s' a/uno",
      'stat a/one 2>/dev/null || echo no-one',
      'stat sub/.home 2>/dev/null || echo hidden',
      "stat -c '%n' sub/file",
      'rm a/two', // a whiteout: lookups go back to JavaScript
      'stat a/two 2>/dev/null || echo no-two',
      'ls a',
    ].join('; ');
    const r = runIn(proj, script, { AGENTFS_HOME: home });
    expect(r.out).toBe(
      [
        host('a/b/deep'), host('a/three'), host('a/b'),
        '190',
        '0o600',
        'deep', 'more',
        'a/uno 4',
        'no-one',
        'hidden',
        'sub/file',
        'no-two',
        'b', 'three', 'uno',
        '',
      ].join('\n'),
    );
    // the addon answered the lookups of host names until the whiteout, 23 of them (JavaScript:
    // the root's entries, the directory holding the hidden one, and after the move and the removal)
    expect(r.jsLookups).toBeLessThan(15);
    const hostNow = hostFind(proj).split('\n').map((l) => l.split(' ')[0]);
    expect(hostNow.filter((p) => !p.startsWith('./sub/.home'))).toEqual(['./a', './a/b', './a/b/deep', ...Array.from({ length: 20 }, (_, i) => `./a/b/f${i}`).sort(), './a/one', './a/three', './a/two', './sub', './sub/file', '']);
    expect(readFileSync(join(proj, 'a', 'b', 'deep'), 'utf8')).toBe('deep\n');
  });

  it('a base file removed from a directory nothing else changed is gone from its listings', () => {
    const proj = join(tmp.dir, 'whiteout');
    mkdirSync(join(proj, 'c', 'sub'), { recursive: true });
    for (const n of ['x', 'y', 'z']) writeFileSync(join(proj, 'c', n), n);
    writeFileSync(join(proj, 'c', 'sub', 'w'), 'w');
    const script = 'ls c; ls c; rm c/x; ls c; ls c; rm c/sub/w; ls c/sub; echo end; find c | LC_ALL=C sort';
    const r = runIn(proj, script);
    expect(r.out).toBe(['sub', 'x', 'y', 'z', 'sub', 'x', 'y', 'z', 'sub', 'y', 'z', 'sub', 'y', 'z', 'end', 'c', 'c/sub', 'c/y', 'c/z', ''].join('\n'));
  });

  it('a base file removed leaves the other host directories to the addon, and its own directory never lists it again', () => {
    // The overlay used to turn the addon's listings off for good at the first whiteout: `find`
    // over a tree after an `rm` of one base file took twice as long, in every later run too
    const proj = twentyDirs('whiteout-one-dir');
    mkdirSync(join(proj, 'p', 'q'), { recursive: true });
    for (const n of ['x', 'y']) writeFileSync(join(proj, 'p', 'q', n), n);
    // q listed by the addon before the removal, p listed again after it (the addon meets q once
    // more), then the twenty directories, each listed for the first time
    const script = `ls p/q; ls p/q; rm p/q/x; ls p/q; ls p; ls p/q; cat p/q/x 2>/dev/null || echo gone; echo end
      for d in ${DIRS}; do ls $d >/dev/null; done; ${FIND}`;
    const r = runIn(proj, script);
    const [before, after] = r.out.split('end\n');
    expect(before).toBe(['x', 'y', 'x', 'y', 'y', 'q', 'y', 'gone', ''].join('\n'));
    // the rest as the host has it without x (p and q: the sandbox's times)
    rmSync(join(proj, 'p', 'q', 'x'));
    const mine = (l: string) => !l.startsWith('./p ') && !l.startsWith('./p/q ');
    expect(after.split('\n').filter(mine)).toEqual(hostFind(proj).split('\n').filter(mine));
    // the twenty directories (two pages each) were the addon's to list, after the whiteout
    expect(pages(r.err)).toBeGreaterThanOrEqual(40);
  });

  it('a later run of a session that removed base names lists its other host directories natively, and never the names removed', () => {
    // the directories holding an earlier run's whiteouts are found at the start: before, any
    // whiteout of an earlier run sent every listing of every later run to JavaScript
    const proj = twentyDirs('whiteout-later-run');
    mkdirSync(join(proj, 'p', 'q'), { recursive: true });
    for (const n of ['x', 'y']) writeFileSync(join(proj, 'p', 'q', n), n);
    const first = runIn(proj, 'ls p/q; rm p/q/x d3/f1; mv d4 gone4', {}, 'whiteouts-kept');
    expect(first.out).toBe('x\ny\n');
    const r = runIn(proj, `ls p/q; ls d3; for d in ${DIRS}; do ls $d >/dev/null 2>&1; done; ls gone4 | head -1; cat p/q/x 2>/dev/null || echo gone`, {}, 'whiteouts-kept');
    expect(r.out).toBe(['y', 'f0', 'f2', 'f3', 'f4', 'f0', 'gone', ''].join('\n'));
    // the other directories (two pages each) were the addon's to list
    expect(pages(r.err)).toBeGreaterThanOrEqual(30);
  });

  it('a directory the host swaps in where the sandbox removed a name does not show that name (hostile pass)', async () => {
    // the removal is the path's: its mark went by the directory's inode number alone, and the
    // addon listed the new host directory, with the name, from then on
    const proj = join(tmp.dir, 'swapped');
    mkdirSync(join(proj, 'P'), { recursive: true });
    for (const n of ['x', 'y', 'z']) writeFileSync(join(proj, 'P', n), n);
    const swap = spawn('sh', ['-c', 'sleep 1.5; mv P P.old; mkdir P; for i in x y z; do echo $i > P/$i; done'], { cwd: proj, stdio: 'ignore' });
    const swapped = new Promise((done) => swap.on('close', done));
    const r = runIn(proj, 'rm P/x; echo before: $(ls P); sleep 3.5; echo after: $(ls P); cat P/x 2>/dev/null || echo gone', { AGENTFS_RUN_HOST_CACHE_S: '1' });
    expect(await swapped).toBe(0);
    expect(r.out).toBe('before: y z\nafter: y z\ngone\n');
  });

  it("a later run keeps an earlier run's removal in a directory that is away at its start and comes back (hostile pass)", async () => {
    // not a directory when the run started, it was not found then: its host path is marked, or
    // the addon listed it, removed name and all, once the host moved it back
    const proj = join(tmp.dir, 'away-at-start');
    mkdirSync(join(proj, 'A', 'B'), { recursive: true });
    for (const n of ['x', 'y']) writeFileSync(join(proj, 'A', 'B', n), n);
    expect(runIn(proj, 'rm A/B/x', {}, 'away').out).toBe('');
    renameSync(join(proj, 'A', 'B'), join(proj, 'A', 'B.aside'));
    const back = spawn('sh', ['-c', 'sleep 1.5; mv A/B.aside A/B'], { cwd: proj, stdio: 'ignore' });
    const moved = new Promise((done) => back.on('close', done));
    const r = runIn(proj, 'ls A; sleep 3.5; ls A/B; cat A/B/x 2>/dev/null || echo gone', { AGENTFS_RUN_HOST_CACHE_S: '1' }, 'away');
    expect(await moved).toBe(0);
    expect(r.out).toBe('B.aside\ny\ngone\n');
  });

  it('a directory holding the hidden session directory is listed without it', () => {
    const proj = join(tmp.dir, 'hidden');
    mkdirSync(join(proj, 'sub'), { recursive: true });
    writeFileSync(join(proj, 'sub', 'file'), 'f');
    const home = join(proj, 'sub', '.home');
    const r = runIn(proj, 'ls -a sub; find sub | LC_ALL=C sort', { AGENTFS_HOME: home });
    expect(r.out).toBe('.\n..\nfile\nsub\nsub/file\n');
  });
});
