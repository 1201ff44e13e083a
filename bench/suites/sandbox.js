// agentfs run (overlay over FUSE in namespaces) against the same work on the native directory,
// and an npm-style workload against the C peer fuse-overlayfs (the copy-on-write overlay of
// rootless containers) over the same base. Times are measured inside the command (date +%s%N
// around the work), so the sandbox's start-up (mount, namespaces, ~0.5 s) is reported apart,
// except the "whole workload" rows, which time everything from start to end on each side.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../median.js';
import { havePeer, mountPeer } from '../peers.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'agentfs.js');

const WL_FILES = Number(process.env.BENCH_SANDBOX_FILES ?? 7000);
const WL_ROUNDS = Math.max(1, Number(process.env.BENCH_SANDBOX_ROUNDS ?? 3));

function makeTree(root, files, perDir = 100) {
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${Math.floor(i / perDir)}`);
    if (i % perDir === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
  }
}

/**
 * Milliseconds the shell snippet `work` takes, measured by the shell itself: the best of `reps`
 * repetitions inside one command (one sandbox), after `warmup` unmeasured ones.
 */
function timeInside(prefix, cwd, env, work, reps = 1, warmup = 0) {
  const once = `s=$(date +%s%N); ${work} >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`;
  const script = [...Array(warmup).fill(`${work} >/dev/null 2>&1`), ...Array(reps).fill(once)].join('; ');
  const r = spawnSync(prefix[0], [...prefix.slice(1), 'sh', '-c', script], { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${prefix.join(' ')} failed: ${r.stderr}`);
  return Math.min(...r.stdout.trim().split('\n').map((l) => Number(l) / 1000));
}

/**
 * An npm-style project: node_modules with 14 files a package (package.json, README.md, LICENSE,
 * index.js, lib/0..9.js), `files` in all, committed to git. Returns the lib files to edit.
 */
function makeNpmTree(dir, files, prefix = 'pkg') {
  const edits = [];
  for (let p = 0; p < Math.max(1, Math.round(files / 14)); p++) {
    const pkg = join(dir, 'node_modules', `${prefix}-${p}`);
    mkdirSync(join(pkg, 'lib'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: `${prefix}-${p}`, version: `1.${p}.0`, main: 'index.js' }, null, 2));
    writeFileSync(join(pkg, 'README.md'), `# ${prefix}-${p}\n\n${'Some documentation.\n'.repeat(30)}`);
    writeFileSync(join(pkg, 'LICENSE'), 'MIT License\n');
    writeFileSync(join(pkg, 'index.js'), `module.exports = require('./lib/0.js');\n`);
    for (let i = 0; i < 10; i++) {
      writeFileSync(join(pkg, 'lib', `${i}.js`), `'use strict';\n${'function f() { return 42; }\n'.repeat(20)}module.exports = f;\n`);
      edits.push(`node_modules/${prefix}-${p}/lib/${i}.js`);
    }
  }
  return edits;
}

/**
 * Makes `dir` a repository with one commit, its index settled. git takes an entry whose file is
 * not older than the index for "racily clean" and reads the file again at every status until the
 * index is rewritten: the files written in the set-up's last second were, a number that varied
 * with its timing, so the first status in a sandbox read anything from none to all 7,000 files
 * (git status 146 or 314 ms in runs of the same build, the peer's likewise). A status run here a
 * second later rewrites the index, so every status timed starts from a clean one, as in a
 * checkout of some age.
 */
function commitTree(dir, env) {
  const gitEnv = { ...env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
  for (const args of [['init', '-q'], ['add', '-A'], ['commit', '-q', '-m', 'init']]) execFileSync('git', args, { cwd: dir, env: gitEnv });
  execFileSync('sleep', ['1.1']);
  execFileSync('git', ['status', '--porcelain'], { cwd: dir, env: gitEnv });
}

// The phases, in issue 16's order, each timed by the shell; "$1" the files to edit, "$2" the tar
// of a new tree. One line per phase: name, microseconds.
const PHASES_SH = `set -e
ph() { n=$1; shift; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "$n $(( (e - s) / 1000 ))"; }
edit() { while read -r f; do echo '// edited' >> "$f"; done < "$1"; }
untar() { mkdir vendor && tar xf "$1" -C vendor; }
ph find find .
ph grep grep -r module.exports node_modules
ph status git status --porcelain
ph edit edit "$1"
ph status2 git status --porcelain
ph rm rm -rf node_modules
ph tarx untar "$2"
`;
const WL_PHASES = { find: 'find', grep: 'grep -r', status: 'git status', edit: 'edit 500 files', status2: 'git status after edits', rm: 'rm -rf', tarx: 'tar x of a new tree' };

/** Runs the phases with `prefix` (a sandbox, or nothing) in `cwd`: ms per phase. */
function phases(prefix, cwd, env, script, list, tar) {
  return new Promise((resolve, reject) => {
    const child = spawn(prefix[0], [...prefix.slice(1), 'sh', script, list, tar], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${[...prefix, 'sh', script].join(' ')}: exit ${code}: ${err.trim()}`));
      resolve(Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v) / 1000])));
    });
  });
}

/**
 * The npm-style workload in three places, round after round: a native copy of the base, `agentfs
 * run` over the base, and fuse-overlayfs (lowerdir=base, a fresh upperdir and workdir a round).
 * Medians over the rounds; ratio = agentfs time / peer time, lower is better.
 */
async function workloadVsOverlay(report, root, env, agentfs) {
  if (!havePeer('fuse-overlayfs')) {
    console.error('sandbox: fuse-overlayfs is not installed (bash scripts/setup.sh installs it): no fuse-overlayfs rows');
    return;
  }
  const wl = join(root, 'wl');
  const base = join(wl, 'base');
  mkdirSync(base, { recursive: true });
  const edits = makeNpmTree(base, WL_FILES);
  writeFileSync(join(base, 'package.json'), '{ "name": "app", "version": "1.0.0" }\n');
  commitTree(base, env);
  const list = join(wl, 'edits.txt');
  writeFileSync(list, edits.slice(0, 500).join('\n') + '\n');
  const fresh = join(wl, 'fresh');
  makeNpmTree(fresh, Math.max(14, Math.round(WL_FILES / 5)), 'new');
  const tar = join(wl, 'new.tar');
  execFileSync('tar', ['cf', tar, '-C', fresh, 'node_modules']);
  rmSync(fresh, { recursive: true });
  const script = join(wl, 'phases.sh');
  writeFileSync(script, PHASES_SH);

  const runs = { native: [], agentfs: [], overlay: [] };
  const since = (t) => Number(process.hrtime.bigint() - t) / 1e6;
  let peer;
  const mnt = join(wl, 'mnt');
  try {
    for (let r = 0; r < WL_ROUNDS; r++) {
      const copy = join(wl, `native-${r}`);
      execFileSync('cp', ['-a', base, copy]);
      let t = process.hrtime.bigint();
      runs.native.push({ ...(await phases(['/usr/bin/env'], copy, env, script, list, tar)), whole: since(t) });
      rmSync(copy, { recursive: true, force: true });

      t = process.hrtime.bigint();
      runs.agentfs.push({ ...(await phases(agentfs(`wl-${r}`), base, env, script, list, tar)), whole: since(t) });

      const [upper, work] = [join(wl, `upper-${r}`), join(wl, `work-${r}`)];
      for (const d of [upper, work, mnt]) mkdirSync(d, { recursive: true });
      t = process.hrtime.bigint();
      peer = await mountPeer('fuse-overlayfs', { lower: base, upper, work }, mnt);
      const res = await phases(['/usr/bin/env'], mnt, env, script, list, tar);
      await peer.unmount();
      peer = undefined;
      runs.overlay.push({ ...res, whole: since(t) });
      rmSync(upper, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  } finally {
    await peer?.unmount();
  }
  await sessionTree(report, wl, base, tar, env, agentfs);
  const med = (target, k) => median(runs[target].map((x) => x[k]));
  for (const [k, name] of [...Object.entries(WL_PHASES), ['whole', 'whole workload']]) {
    const a = med('agentfs', k);
    const note = k === 'whole' ? 'start to end, incl. mount; target <= 0.8' : 'target <= 1.0';
    report({ suite: 'sandbox', workload: `npm ${WL_FILES}: ${name} vs fuse-overlayfs`, agentfs: a, baseline: med('overlay', k), baselineName: 'fuse-overlayfs', unit: 'ms', ratio: a / med('overlay', k), note });
    report({ suite: 'sandbox', workload: `npm ${WL_FILES}: ${name} vs native`, agentfs: a, baseline: med('native', k), baselineName: 'native', unit: 'ms', ratio: a / med('native', k) });
  }
}

// A tree made in the session ($1: the tar of one), then walked, searched and removed: one line per
// phase, as PHASES_SH. The second past the tar lets the attributes it left cached expire, as in a
// session that came back to a tree it built earlier.
const SESSION_TREE_SH = `set -e
ph() { n=$1; shift; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "$n $(( (e - s) / 1000 ))"; }
mkdir built && tar xf "$1" -C built && sleep 1.1
ph find find built
ph grep grep -r module.exports built
ph rm rm -rf built
`;
const SESSION_PHASES = { find: 'find', grep: 'grep -r', rm: 'rm -rf' };

/**
 * A tree made in the session (`npm install`, a build's output) lives in the delta only: its
 * listings, reads and removals are served by JavaScript, where the base's are served by the
 * addon. find, grep -r and rm -rf of one against fuse-overlayfs's upper layer, medians of ROUNDS
 * pairs (a fresh sandbox and a fresh upper directory each).
 */
async function sessionTree(report, wl, base, tar, env, agentfs) {
  const script = join(wl, 'session-tree.sh');
  writeFileSync(script, SESSION_TREE_SH);
  const mnt = join(wl, 'tree-mnt');
  const ours = [];
  const theirs = [];
  for (let r = 0; r < WL_ROUNDS; r++) {
    ours.push(await phases(agentfs(`tree-${r}`), base, env, script, tar, ''));
    const [upper, work] = [join(wl, `tree-upper-${r}`), join(wl, `tree-work-${r}`)];
    for (const d of [upper, work, mnt]) mkdirSync(d, { recursive: true });
    const peer = await mountPeer('fuse-overlayfs', { lower: base, upper, work }, mnt);
    try {
      theirs.push(await phases(['/usr/bin/env'], mnt, env, script, tar, ''));
    } finally {
      await peer.unmount();
    }
    rmSync(upper, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
  for (const [k, name] of Object.entries(SESSION_PHASES)) {
    const [a, b] = [median(ours.map((x) => x[k])), median(theirs.map((x) => x[k]))];
    report({ suite: 'sandbox', workload: `tree made in the session: ${name} vs fuse-overlayfs`, agentfs: a, baseline: b, baselineName: 'fuse-overlayfs', unit: 'ms', ratio: a / b, note: 'tar x, then the phase' });
  }
}

/**
 * The first `git status` after what agents do all the time to directories: a build directory
 * made, moved and removed, a base directory moved, a base file removed. Each of these once took
 * every host file back from the addon (or turned its listings off), and this status asked
 * JavaScript for every lstat: 3-4x as long. Against fuse-overlayfs over the same repository, the
 * best of ROUNDS pairs (a fresh sandbox and a fresh upper directory each).
 */
async function statusAfterChanges(report, root, repo, env, agentfs) {
  if (!havePeer('fuse-overlayfs')) return;
  const changes = 'mkdir -p out/x && mv out built && rm -rf built && mv d1 d1-moved && rm d2/f200.txt && sleep 1.1';
  // a status first: the kernel holds every name, as in a session that has been working a while
  const once = `git status --porcelain >/dev/null; ${changes}; s=$(date +%s%N); git status --porcelain >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`;
  const inside = (prefix, cwd) => {
    const r = spawnSync(prefix[0], [...prefix.slice(1), 'sh', '-c', once], { cwd, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${prefix.join(' ')}: ${r.stderr}`);
    return Number(r.stdout.trim()) / 1000;
  };
  const mnt = join(root, 'changes-mnt');
  const ours = [];
  const theirs = [];
  for (let r = 0; r < WL_ROUNDS; r++) {
    ours.push(inside(agentfs(`changes-${r}`), repo));
    const [upper, work] = [join(root, `changes-upper-${r}`), join(root, `changes-work-${r}`)];
    for (const d of [upper, work, mnt]) mkdirSync(d, { recursive: true });
    const peer = await mountPeer('fuse-overlayfs', { lower: repo, upper, work }, mnt);
    try {
      theirs.push(inside(['/usr/bin/env'], mnt));
    } finally {
      await peer.unmount();
    }
  }
  const [a, b] = [Math.min(...ours), Math.min(...theirs)];
  report({ suite: 'sandbox', workload: 'git status after directory changes vs fuse-overlayfs', agentfs: a, baseline: b, baselineName: 'fuse-overlayfs', unit: 'ms', ratio: a / b, note: 'status, mkdir+mv+rm -rf, a mv and an rm of the base, status' });
}

export async function run(report) {
  const root = mkdtempSync(join(tmpdir(), 'agentfs-bench-sandbox-'));
  const env = { ...process.env, AGENTFS_HOME: join(root, 'home') };
  const agentfs = (session) => [process.execPath, CLI, 'run', '--session', session, '--'];
  // run --experimental-sandbox: its start copies the directory out and its end writes the changes
  // back, both outside what timeInside measures, so the whole run's wall time is reported too
  const ptrace = (session) => [process.execPath, CLI, 'run', '--experimental-sandbox', '--session', session, '--'];
  const wall = (prefix, cwd, work) => {
    const t = Date.now();
    const r = spawnSync(prefix[0], [...prefix.slice(1), 'sh', '-c', work], { cwd, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${prefix.join(' ')} failed: ${r.stderr}`);
    return Date.now() - t;
  };
  const native = ['/usr/bin/env'];
  try {
    // start-up: run of a command that does nothing
    const t0 = Date.now();
    const empty = join(root, 'empty');
    mkdirSync(empty);
    spawnSync(process.execPath, [CLI, 'run', '--', 'true'], { cwd: empty, env });
    const startup = Date.now() - t0;
    const t1 = Date.now();
    spawnSync('true');
    report({ suite: 'sandbox', workload: 'run -- true (start-up)', agentfs: startup, baseline: Date.now() - t1, baselineName: 'spawn', unit: 'ms' });
    const ptStartup = wall(ptrace('pt-empty'), empty, 'true');
    report({ suite: 'sandbox', workload: 'ptrace: run -- true (start-up)', agentfs: ptStartup, baseline: startup, baselineName: 'plain run', unit: 'ms' });

    // rm -rf of a 10k-file tree
    const tree = join(root, 'rm-base');
    mkdirSync(tree);
    makeTree(join(tree, 'tree'), 10_000);
    const nativeCopy = join(root, 'rm-native');
    cpSync(tree, nativeCopy, { recursive: true });
    const rmSandbox = timeInside(agentfs('rm'), tree, env, 'rm -rf tree');
    const rmNative = timeInside(native, nativeCopy, env, 'rm -rf tree');
    report({ suite: 'sandbox', workload: 'rm -rf 10k-file tree', agentfs: rmSandbox, baseline: rmNative, baselineName: 'native', unit: 'ms', note: 'target <= 5x' });
    const rmPtrace = timeInside(ptrace('pt-rm'), tree, env, 'rm -rf tree');
    report({ suite: 'sandbox', workload: 'ptrace: rm -rf 10k-file tree', agentfs: rmPtrace, baseline: rmSandbox, baselineName: 'plain run', unit: 'ms' });
    const rmPtraceWall = wall(ptrace('pt-rm-wall'), tree, 'rm -rf tree');
    const rmPlainWall = wall(agentfs('rm-wall'), tree, 'rm -rf tree');
    report({ suite: 'sandbox', workload: 'ptrace: rm -rf 10k, whole run', agentfs: rmPtraceWall, baseline: rmPlainWall, baselineName: 'plain run', unit: 'ms', note: 'copy out + write back' });

    // git status on a 5k-file repository
    const repo = join(root, 'repo');
    mkdirSync(repo);
    makeTree(repo, 5_000);
    commitTree(repo, env);
    const gsNative = timeInside(native, repo, env, 'git status --porcelain', 5, 1);
    const gsSandbox = timeInside(agentfs('git'), repo, env, 'git status --porcelain', 5, 1);
    report({ suite: 'sandbox', workload: 'git status, 5k files (warm)', agentfs: gsSandbox, baseline: gsNative, baselineName: 'native', unit: 'ms', note: 'target <= 5x' });
    const gsCold = timeInside(agentfs('git-cold'), repo, env, 'git status --porcelain', 1);
    report({ suite: 'sandbox', workload: 'git status, 5k files (first in run)', agentfs: gsCold, baseline: gsNative, baselineName: 'native', unit: 'ms' });
    const gsPtrace = timeInside(ptrace('pt-git'), repo, env, 'git status --porcelain', 5, 1);
    report({ suite: 'sandbox', workload: 'ptrace: git status, 5k files (warm)', agentfs: gsPtrace, baseline: gsNative, baselineName: 'native', unit: 'ms' });
    await statusAfterChanges(report, root, repo, env, agentfs);

    // the npm-style workload against fuse-overlayfs (issue 16)
    await workloadVsOverlay(report, root, env, agentfs);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
