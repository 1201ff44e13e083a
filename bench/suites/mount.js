// The FUSE mount, four ways in one run: an agentfs mount (native libfuse 3 binding over the
// SQLite core), a native directory, the ceiling of a Node FUSE stack (an in-memory filesystem on
// fuse-native, bench/memfs-fuse-native.js), and the C peer bindfs (libfuse 3 passthrough over a
// native directory, bench/peers.js). Every workload runs in a child process against each target;
// the bench process never touches a mount itself.
// Rows: agentfs vs native and vs the in-memory ceiling as throughputs (ratio = agentfs / baseline,
// higher is better); agentfs vs bindfs as times (ratio = agentfs time / bindfs time, lower is
// better, the form of issue 16's table).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../median.js';
import { havePeer, mountPeer } from '../peers.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'bin', 'agentfs.js');
const N = Number(process.env.BENCH_MOUNT_FILES ?? 5000);
const MB = Number(process.env.BENCH_MOUNT_MB ?? 64);
const ROUNDS = Math.max(1, Number(process.env.BENCH_MOUNT_ROUNDS ?? 3));


function exec(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

async function timed(cmd, args, opts) {
  const t0 = process.hrtime.bigint();
  await exec(cmd, args, opts);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// Metadata and data workloads, timed inside the child (python3, same for every target); seconds
// per phase. The cold read drops every page cache when root, else fadvises away the file and the
// files behind it (argv[5:]: the peer's backing file, our database), so both sides read the same.
// Neither drops a page some process has mapped, and our server's database readers map the pages
// they read: from the second round on, the file reused pages an earlier round's read had mapped
// and came back from memory (0-13 of 64 MiB read from the disk, 68 in the first round). For
// agentfs the mount is started again first (BENCH_COLD_REMOUNT, a shell command), so its
// database is as cold as the peer's file.
const WORKLOAD = String.raw`
import json, os, shutil, subprocess, sys, time
d, n, mb, tar = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = {}
def timed(name, fn):
    t = time.perf_counter()
    fn()
    out[name] = time.perf_counter() - t
def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
many = os.path.join(d, 'many')
def create():
    os.mkdir(many)
    for i in range(n):
        with open(os.path.join(many, 'f%05d' % i), 'w') as f:
            f.write('small file %d\n' % i)
timed('create+write', create)
def stat():
    for i in range(n):
        os.stat(os.path.join(many, 'f%05d' % i))
timed('stat', stat)
def readdir():
    c = sum(1 for _ in os.scandir(many))
    assert c == n, c
timed('readdir', readdir)
def unlink():
    for i in range(n):
        os.unlink(os.path.join(many, 'f%05d' % i))
    os.rmdir(many)
timed('unlink', unlink)
block = os.urandom(1 << 20)
seq = os.path.join(d, 'seq.bin')
def write():
    with open(seq, 'wb') as f:
        for _ in range(mb):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
timed('seq write', write)
os.sync()
if os.environ.get('BENCH_COLD_REMOUNT'):
    subprocess.run(['sh', '-c', os.environ['BENCH_COLD_REMOUNT']], check=True, stdout=subprocess.DEVNULL)
try:
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3')
except OSError:
    for p in [seq] + sys.argv[5:]:
        try:
            fd = os.open(p, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        except OSError:
            pass
def read():
    with open(seq, 'rb', buffering=0) as f:
        while f.read(1 << 20):
            pass
timed('seq read', read)
os.unlink(seq)
tree = os.path.join(d, 'tree')
os.mkdir(tree)
timed('tar x', lambda: sh('tar', 'xf', tar, '-C', tree))
timed('find', lambda: sh('find', tree))
timed('grep -r', lambda: sh('grep', '-r', 'module', tree))
timed('rm -rf', lambda: sh('rm', '-rf', tree))
print(json.dumps(out))
`;

// Per phase: its unit and how many of it one run does (files, MiB, runs), for the throughput rows.
const PHASES = {
  'create+write': ['files/s', () => N],
  stat: ['stats/s', () => N],
  readdir: ['entries/s', () => N],
  unlink: ['files/s', () => N],
  'rm -rf': ['files/s', () => N],
  'seq write': ['MB/s', () => MB],
  'seq read': ['MB/s', () => MB],
  'tar x': ['files/s', () => N],
  find: ['files/s', () => N],
  'grep -r': ['files/s', () => N],
  'git clone': ['clones/s', () => 1],
  'git status': ['runs/s', () => 1],
};

async function workloads(dir, work, repo, backing = [], env = process.env) {
  const res = JSON.parse(await exec('python3', [join(work, 'workload.py'), dir, String(N), String(MB), join(work, 'tree.tar'), ...backing], { env }));
  res['git clone'] = await timed('git', ['clone', '-q', '--no-hardlinks', repo, join(dir, 'clone')]);
  res['git status'] = await timed('git', ['status', '--porcelain'], { cwd: join(dir, 'clone') });
  await exec('rm', ['-rf', join(dir, 'clone')]);
  return res;
}

/** Samples a process's memory every 50 ms (pid(): the process now): peak VmHWM and peak RssAnon, in kB. */
function trackRss(pid) {
  let peak = 0;
  let privatePeak = 0;
  const sample = () => {
    try {
      const st = readFileSync(`/proc/${pid()}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0));
      privatePeak = Math.max(privatePeak, Number(/RssAnon:\s+(\d+)/.exec(st)?.[1] ?? 0));
    } catch {
      /* the server ended */
    }
  };
  const timer = setInterval(sample, 50);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peak, privatePeak };
    },
  };
}

async function waitReady(child, what) {
  await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      if (text.includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

export async function run(report) {
  const work = mkdtempSync(join(tmpdir(), 'agentfs-bench-mount-'));
  const native = join(work, 'native');
  const agentMnt = join(work, 'agentfs');
  const memMnt = join(work, 'memfs');
  const bindSrc = join(work, 'bindfs-src');
  const bindMnt = join(work, 'bindfs');
  for (const d of [native, agentMnt, memMnt, bindSrc, bindMnt]) mkdirSync(d);
  writeFileSync(join(work, 'workload.py'), WORKLOAD);
  // the tree tar x extracts (and find, grep -r, rm -rf then walk): N small sources in 50-file dirs
  await exec('python3', ['-c', `import os,sys\nfor i in range(${N}):\n  d=os.path.join(sys.argv[1],'src','p%03d' % (i // 50))\n  os.makedirs(d,exist_ok=True)\n  open(os.path.join(d,'m%05d.js' % i),'w').write('module.exports = ' + str(i) + ';\\n' + '// filler\\n' * 20)\n`, join(work, 'tree')]);
  await exec('tar', ['cf', join(work, 'tree.tar'), '-C', join(work, 'tree'), 'src']);
  rmSync(join(work, 'tree'), { recursive: true });
  // a local repository to clone: a few hundred files over a few commits
  const repo = join(work, 'repo');
  await exec('sh', ['-c', `mkdir -p ${repo} && cd ${repo} && git init -q && for c in 1 2 3; do for i in $(seq 1 150); do mkdir -p d$((i % 15)); echo "line $c $i" >> d$((i % 15))/f$i.txt; done; git add -A && git -c user.name=b -c user.email=b@b commit -qm c$c; done`]);

  let mem;
  let agentPid;
  let bind;
  const env = { ...process.env, AGENTFS_RUNTIME_DIR: join(work, 'run') };
  try {
    const db = join(work, 'bench.db');
    await exec(process.execPath, [CLI, 'init', db, '--no-journal'], { env });
    const out = await exec(process.execPath, [CLI, 'mount', db, agentMnt], { env });
    const pidOf = (text) => Number(/\(pid (\d+)\)/.exec(text)?.[1]);
    agentPid = pidOf(out);
    // the server the cold read's remount started (see WORKLOAD) is the one to watch and stop
    const remounted = join(work, 'remounted.txt');
    const serverPid = () => {
      try {
        agentPid = pidOf(readFileSync(remounted, 'utf8')) || agentPid;
      } catch {
        /* not remounted yet */
      }
      return agentPid;
    };
    const q = (a) => `'${a.replaceAll("'", `'\\''`)}'`;
    const [node, cli, mnt, file] = [process.execPath, CLI, agentMnt, db].map(q);
    const agentEnv = { ...env, BENCH_COLD_REMOUNT: `${node} ${cli} unmount ${mnt} && ${node} ${cli} mount ${file} ${mnt} > ${q(remounted)}` };
    mem = spawn(process.execPath, [join(root, 'bench', 'memfs-fuse-native.js'), memMnt], { stdio: ['ignore', 'pipe', 'inherit'] });
    await waitReady(mem, 'memfs-fuse-native');
    if (havePeer('bindfs')) bind = await mountPeer('bindfs', { src: bindSrc }, bindMnt);
    else console.error('mount: bindfs is not installed (bash scripts/setup.sh installs it): no bindfs rows');

    // This VM's speed drifts by 2x within minutes: the three targets take turns, round after
    // round, and each workload reports its median over the rounds.
    const rss = trackRss(serverPid);
    const runs = { native: [], agentfs: [], memfs: [], ...(bind ? { bindfs: [] } : {}) };
    for (let r = 0; r < ROUNDS; r++) {
      runs.native.push(await workloads(native, work, repo));
      runs.agentfs.push(await workloads(agentMnt, work, repo, [db, `${db}-wal`], agentEnv));
      serverPid();
      runs.memfs.push(await workloads(memMnt, work, repo));
      if (bind) runs.bindfs.push(await workloads(bindMnt, work, repo, [join(bindSrc, 'seq.bin')]));
    }
    const { peak, privatePeak } = rss.stop();
    await exec(process.execPath, [CLI, 'unmount', agentMnt], { env });
    agentPid = undefined;
    // medians of the seconds per phase
    const results = Object.fromEntries(
      Object.entries(runs).map(([target, list]) => [target, Object.fromEntries(Object.keys(PHASES).map((w) => [w, median(list.map((x) => x[w]))]))]),
    );
    const rate = (target, w) => PHASES[w][1]() / results[target][w];

    for (const w of Object.keys(PHASES)) {
      const unit = PHASES[w][0];
      const a = rate('agentfs', w);
      report({ suite: 'mount', workload: `${w} vs native`, agentfs: a, baseline: rate('native', w), baselineName: 'native', unit, ratio: a / rate('native', w) });
      report({
        suite: 'mount',
        workload: `${w} vs fuse-native memfs`,
        agentfs: a,
        baseline: rate('memfs', w),
        baselineName: 'memfs',
        unit,
        ratio: a / rate('memfs', w),
        note: w === 'seq write' ? 'target >= 0.4' : 'target >= 0.6',
      });
      if (bind) {
        const [at, bt] = [results.agentfs[w] * 1000, results.bindfs[w] * 1000];
        report({ suite: 'mount', workload: `${w} vs bindfs (time)`, agentfs: at, baseline: bt, baselineName: 'bindfs', unit: 'ms', ratio: at / bt, note: 'lower is better, target <= 1.0' });
      }
    }
    // VmHWM counts the database pages SQLite reads through its memory map (page cache the kernel
    // reclaims at will); RssAnon is what the server itself holds: heap, buffers, stacks.
    report({ suite: 'mount', workload: 'agentfs server peak private RSS (RssAnon)', agentfs: privatePeak / 1024, baseline: 200, baselineName: 'limit', unit: 'MB' });
    report({ suite: 'mount', workload: 'agentfs server peak RSS incl. mapped database (VmHWM)', agentfs: peak / 1024, baselineName: '', unit: 'MB' });
  } finally {
    await bind?.unmount();
    if (agentPid) {
      await exec(process.execPath, [CLI, 'unmount', agentMnt], { env }).catch(() => process.kill(agentPid, 'SIGKILL'));
    }
    if (mem && mem.exitCode === null) {
      const exited = new Promise((r) => mem.on('exit', r));
      mem.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  }
}
