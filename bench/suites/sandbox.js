// agentfs run (overlay over FUSE in namespaces) against the same work on the native directory.
// Times are measured inside the command (date +%s%N around the work), so the sandbox's start-up
// (mount, namespaces, ~0.5 s) is reported apart.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'agentfs.js');

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
    const git = (...args) => execFileSync('git', args, { cwd: repo, env: { ...env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-q', '-m', 'init');
    const gsNative = timeInside(native, repo, env, 'git status --porcelain', 5, 1);
    const gsSandbox = timeInside(agentfs('git'), repo, env, 'git status --porcelain', 5, 1);
    report({ suite: 'sandbox', workload: 'git status, 5k files (warm)', agentfs: gsSandbox, baseline: gsNative, baselineName: 'native', unit: 'ms', note: 'target <= 5x' });
    const gsCold = timeInside(agentfs('git-cold'), repo, env, 'git status --porcelain', 1);
    report({ suite: 'sandbox', workload: 'git status, 5k files (first in run)', agentfs: gsCold, baseline: gsNative, baselineName: 'native', unit: 'ms' });
    const gsPtrace = timeInside(ptrace('pt-git'), repo, env, 'git status --porcelain', 5, 1);
    report({ suite: 'sandbox', workload: 'ptrace: git status, 5k files (warm)', agentfs: gsPtrace, baseline: gsNative, baselineName: 'native', unit: 'ms' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
