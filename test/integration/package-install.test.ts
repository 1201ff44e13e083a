/**
 * The npm package as users get it: packed from a clean clone (one `npm pack`), installed with
 * `npm install -g` on a PATH with no compiler, make or python, then every layer used through the
 * installed `agentfs`: files, a mount, a sandboxed run and its diff, the timeline, the MCP server
 * (to the official MCP client), `npx`, and the SDK imported from another project. One pack per
 * run serves every test here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ROOT, run, tempDir, type CliResult } from '../support/cli.js';
import { BUILD_TOOLS, packCleanClone, toolsOnlyPath } from '../support/package.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const isRoot = process.getuid?.() === 0;

let work: { dir: string; cleanup: () => void };
let tarball: string;
let PATH: string;
let prefix: string;
let agentfsBin: string;
let env: NodeJS.ProcessEnv;

/** Runs the installed agentfs with the tools-only PATH. */
function agentfs(args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return run(agentfsBin, args, { cwd, env: { ...env, ...extra } });
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}

beforeAll(async () => {
  work = tempDir('agentfs-pkg-');
  tarball = packCleanClone(work.dir);
  PATH = toolsOnlyPath(join(work.dir, 'tools'));
  prefix = join(work.dir, 'prefix');
  // HOME stays (the npm cache lives there); the installed package finds no compiler on PATH
  env = {
    PATH: `${join(prefix, 'bin')}:${PATH}`,
    AGENTFS_HOME: join(work.dir, 'agentfs-home'),
    AGENTFS_RUNTIME_DIR: join(work.dir, 'runtime'),
    TMPDIR: join(work.dir, 'tmp'),
  };
  mkdirSync(join(work.dir, 'tmp'));
  const r = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    env,
    timeoutMs: 600_000,
  });
  if (r.code !== 0) throw new Error(`npm install -g failed: ${r.stderr}`);
  agentfsBin = join(prefix, 'bin', 'agentfs');
}, 900_000);

afterAll(() => work?.cleanup());

describe('the packed tarball', () => {
  it('holds what a user runs and nothing else', async () => {
    const list = (await run('tar', ['tzf', tarball])).stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    const top = new Set(list.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual(['LICENSE', 'MANUAL.md', 'README.md', 'bin', 'dist', 'examples', 'native', 'package.json']);
    expect(list.filter((f) => f.startsWith('examples/')).sort()).toEqual([
      'examples/audit-session.sh',
      'examples/mount-agent-state.sh',
      'examples/record-agent-run.sh',
      'examples/sdk-agent-loop.mjs',
    ]);
    expect(list).toContain('dist/index.js');
    expect(list).toContain('dist/index.d.ts');
    expect(list).toContain('dist/cli/main.js');
    expect(list.filter((f) => f.startsWith('native/')).sort()).toEqual([
      'native/binding.gyp',
      'native/checkpointer.cc',
      'native/checkpointer.h',
      'native/dirents.h',
      'native/fuse_session.cc',
      'native/host_files.cc',
      'native/host_files.h',
      'native/host_stat.cc',
      'native/host_stat.h',
      'native/prebuilds/linux-x64/agentfs-ptrace',
      'native/prebuilds/linux-x64/agentfs-sandbox',
      'native/prebuilds/linux-x64/agentfs-tether',
      'native/prebuilds/linux-x64/agentfs-walbatch.so',
      'native/prebuilds/linux-x64/node.glibc.node',
      'native/ptrace/supervisor.c',
      'native/reader.cc',
      'native/reader.h',
      'native/reply_buffers.cc',
      'native/reply_buffers.h',
      'native/reply_writer.cc',
      'native/reply_writer.h',
      'native/request_bytes.cc',
      'native/request_bytes.h',
      'native/requests.h',
      'native/sandbox/launcher.c',
      'native/sent_attrs.h',
      'native/sqlite_maps.cc',
      'native/sqlite_maps.h',
      'native/sqlite_ofd.cc',
      'native/sqlite_ofd.h',
      'native/sqlite_page_pool.cc',
      'native/sqlite_page_pool.h',
      'native/tether/tether.c',
      'native/trial.h',
      'native/utf8.h',
      'native/walbatch/wal_batch.c',
    ]);
    expect(list.filter((f) => f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // the installed package's stores load its prebuilt WAL-batching extension (no compiler here)
    const walBatch = join(prefix, 'lib', 'node_modules', 'agentfs', 'dist', 'store', 'wal-batch.js');
    const loaded = await run(process.execPath, ['--input-type=module', '-e', `const { walBatchVfs } = await import(${JSON.stringify(walBatch)}); console.log(walBatchVfs())`], { env });
    expect(loaded.stdout.trim(), loaded.stderr).toBe('agentfs-walbatch');
    // no install script: nothing runs (or needs a compiler) when it is installed
    const pkg = JSON.parse(readFileSync(join(prefix, 'lib', 'node_modules', 'agentfs', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(Object.keys(pkg.scripts ?? {}).filter((s) => /install/.test(s))).toEqual([]);
  });
});

describe('npm install -g on a machine with no compiler', () => {
  it('has no build tools on its PATH', () => {
    for (const tool of BUILD_TOOLS) expect(existsSync(join(PATH, tool)), tool).toBe(false);
    expect(existsSync(join(PATH, 'node'))).toBe(true);
  });

  it('runs every layer through the installed agentfs', async () => {
    const cwd = join(work.dir, 'project');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'base.txt'), 'from the host\n');

    expect(ok(await agentfs(['--version'], cwd)).stdout.trim()).toBe(VERSION);
    ok(await agentfs(['init', 'smoke'], cwd));
    ok(await agentfs(['fs', 'write', 'smoke', '/notes.txt', 'hello'], cwd));
    expect(ok(await agentfs(['fs', 'cat', 'smoke', '/notes.txt'], cwd)).stdout).toBe('hello');
    ok(await agentfs(['kv', 'set', 'smoke', 'plan', '{"step":1}'], cwd));
    expect(ok(await agentfs(['kv', 'get', 'smoke', 'plan'], cwd)).stdout).toContain('"step"');

    // a shell in the mount (the prebuilt addon, libfuse 3 from the system)
    const shell = ok(await agentfs(['exec', 'smoke', 'sh', '-c', 'cat notes.txt; echo " seen"; echo made-in-mount > mounted.txt'], cwd));
    expect(shell.stdout).toBe('hello seen\n');
    expect(ok(await agentfs(['fs', 'cat', 'smoke', '/mounted.txt'], cwd)).stdout).toBe('made-in-mount\n');

    // a sandboxed run (the prebuilt launcher) and its diff; the host directory stays as it was
    const sandboxed = ok(await agentfs(['run', '--session', 'sbx', 'sh', '-c', 'echo changed > base.txt; echo new > new.txt'], cwd));
    expect(sandboxed.stderr).toContain('session sbx');
    expect(readFileSync(join(cwd, 'base.txt'), 'utf8')).toBe('from the host\n');
    expect(existsSync(join(cwd, 'new.txt'))).toBe(false);
    const diff = ok(await agentfs(['diff', 'sbx'], cwd)).stdout;
    expect(diff).toMatch(/A\s+file\s+new\.txt/);
    expect(diff).toMatch(/M\s+file\s+base\.txt/);

    // the same through the prebuilt ptrace supervisor (run --experimental-sandbox)
    const traced = ok(await agentfs(['run', '--experimental-sandbox', '--session', 'pt', 'sh', '-c', 'cat base.txt; echo traced > base.txt'], cwd));
    expect(traced.stdout).toBe('from the host\n');
    expect(readFileSync(join(cwd, 'base.txt'), 'utf8')).toBe('from the host\n');
    expect(ok(await agentfs(['diff', 'pt'], cwd)).stdout).toMatch(/M\s+file\s+base\.txt/);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'agentfs', 'native', 'ptrace', 'build'))).toBe(false);

    // a recorded command, started through the prebuilt tether (no compiler to build one here)
    const recorded = await agentfs(['record', 'smoke', '--', 'sh', '-c', 'echo recorded; exit 3'], cwd);
    expect(recorded.code).toBe(3);
    expect(recorded.stdout).toBe('recorded\n');
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'agentfs', 'native', 'tether', 'build'))).toBe(false);

    const timeline = ok(await agentfs(['timeline', 'smoke', '--format', 'json'], cwd)).stdout;
    expect(timeline).toContain('mounted.txt');
    expect(timeline).toContain('recorded');
    expect(ok(await agentfs(['migrate', 'smoke', '--dry-run'], cwd)).stdout).toContain('up to date');
    expect(ok(await agentfs(['sync', '--help'], cwd)).stdout).toContain('push');
    // the examples the README points to run from the installed package
    const examples = join(prefix, 'lib', 'node_modules', 'agentfs', 'examples');
    // (with the machine's PATH: the audit example runs python3 and sqlite3, as a user's would)
    const full = { ...env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
    const loop = await run(process.execPath, [join(examples, 'sdk-agent-loop.mjs')], { cwd, env: full });
    expect(loop.stderr).toBe('');
    expect(loop.code).toBe(0);
    const audit = await run('bash', [join(examples, 'audit-session.sh')], { cwd, env: full, timeoutMs: 120_000 });
    expect(audit.code, audit.stderr).toBe(0);

    // the web UI from the installed package: its page and every asset the page names
    const ui = spawn(agentfsBin, ['ui', 'smoke', '--no-open', '--port', '0'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        ui.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out);
        });
        ui.once('exit', (code) => reject(new Error(`agentfs ui exited ${code}`)));
      });
      const url = new URL(/http\S+/.exec(first)![0]);
      const entry = await fetch(url, { redirect: 'manual' });
      const cookie = entry.headers.get('set-cookie')!.split(';')[0]!;
      const page = await fetch(new URL('./', url), { headers: { cookie } });
      expect(page.status).toBe(200);
      const html = await page.text();
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length).toBeGreaterThan(0);
      for (const a of assets) expect((await fetch(new URL(a, url), { headers: { cookie } })).status, a).toBe(200);
    } finally {
      ui.kill('SIGTERM');
    }

    // the MCP server, spoken to by the official client
    const transport = new StdioClientTransport({ command: agentfsBin, args: ['serve', 'mcp', 'smoke'], cwd, env: env as Record<string, string>, stderr: 'pipe' });
    const client = new Client({ name: 'agentfs-package-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('read_file');
    } finally {
      await client.close();
    }
  });

  it('runs from the tarball with npx', async () => {
    const r = ok(await run('npx', ['--yes', '--prefer-offline', '--package', tarball, '--', 'agentfs', '--version'], { cwd: work.dir, env }));
    expect(r.stdout.trim()).toBe(VERSION);
  });
});

describe.skipIf(!isRoot)('as a user who is not root', () => {
  /** Runs a shell script as uid 65534 (nobody) with the tools-only PATH (no fusermount3 on it). */
  function asNobody(script: string, home: string): Promise<CliResult> {
    return run('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], {
      cwd: join(home, 'project'),
      env: { PATH: env.PATH, HOME: home, TMPDIR: join(home, 'tmp') },
    });
  }

  /** A home directory of nobody's, with a project/mnt and a tmp. */
  function nobodyHome(name: string): string {
    chmodSync(work.dir, 0o755); // the installed package is under it
    const home = join(work.dir, name);
    for (const d of ['', 'project', 'project/mnt', 'tmp']) {
      mkdirSync(join(home, d), { recursive: true });
      chownSync(join(home, d), 65534, 65534);
    }
    return home;
  }

  it('mount, unmount, exec and run find fusermount3 where libfuse does, and leave no mount behind', async () => {
    const home = nobodyHome('nobody');
    const mounted = () => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(home));
    try {
      const r = await asNobody(
        [
          'set -e',
          'agentfs init u',
          'agentfs mount u mnt',
          'echo via-mount > mnt/m.txt',
          'agentfs unmount mnt',
          'agentfs exec u sh -c "cat m.txt"',
          'agentfs run --session s sh -c "echo x > y"',
          'agentfs diff s',
        ].join('\n'),
        home,
      );
      expect(r.stderr).not.toMatch(/ENOENT|cannot unmount/);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\nUnmounted [^\n]*\/mnt\nvia-mount\nA file    y\n$/);
      expect(mounted()).toEqual([]);
    } finally {
      for (const line of mounted()) spawnSync('umount', ['-l', line.split(' ')[1]!]);
    }
  });

  it('with HOME empty, run keeps its sessions in the account home, never in the base', async () => {
    const home = nobodyHome('nobody3');
    const r = await run('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'agentfs', 'run', '--session', 'e', 'true'], {
      cwd: join(home, 'project'),
      env: { PATH: env.PATH, HOME: '', TMPDIR: join(home, 'tmp') },
    });
    // nobody's home (/nonexistent) cannot be made: one line naming it, and nothing in the base
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agentfs: [^\n]*\/nonexistent[^\n]*\n$/);
    expect(readdirSync(join(home, 'project'))).toEqual(['mnt']);
  });

  it('where fusermount3 is not setuid root, mount/exec/run say so and leave nothing behind', async () => {
    const home = nobodyHome('nobody2');
    const copy = join(work.dir, 'fusermount3-nosuid');
    cpSync('/usr/bin/fusermount3', copy);
    chmodSync(copy, 0o755);
    const script = [
      'agentfs init u >/dev/null',
      'agentfs mount u mnt; echo "mount=$?"',
      'agentfs exec u true; echo "exec=$?"',
      'agentfs run --session s true; echo "run=$?"',
      'ls -A "$HOME/.agentfs/sessions" 2>/dev/null; ls -A mnt',
    ].join('\n');
    // a private mount namespace where /usr/bin/fusermount3 is a copy without the setuid bit
    const r = await run(
      '/usr/bin/unshare',
      ['-m', '/bin/sh', '-c', `mount --make-rprivate / && mount --bind '${copy}' /usr/bin/fusermount3 && exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '${script}'`],
      { cwd: join(home, 'project'), env: { PATH: `${env.PATH}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: home, TMPDIR: join(home, 'tmp') } },
    );
    expect(r.stdout).toBe('mount=1\nexec=1\nrun=1\n');
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^agentfs: cannot mount on .*; \/usr\/bin\/fusermount3 is not setuid root, .*fuse3\)$/);
    // no temporary mountpoint of exec's (the runtime directory keeps the mount server's log)
    expect(readdirSync(join(home, 'tmp')).filter((f) => !f.startsWith('agentfs-6'))).toEqual([]);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(home);
  });
});

describe('where FUSE or user namespaces are missing', () => {
  /**
   * Runs a shell script in a private mount namespace where `dir` is an overlay of itself with
   * `names` deleted: the rest of the machine is as it was, those files are gone.
   */
  function without(dir: string, names: string, script: string, cwd: string): Promise<CliResult> {
    const hide = `mount --make-rprivate / && U=$(mktemp -d -p '${work.dir}') && mount -t tmpfs tmpfs "$U" && mkdir "$U/up" "$U/work" && mount -t overlay overlay -o "lowerdir=${dir},upperdir=$U/up,workdir=$U/work" ${dir} && rm -f ${names}`;
    // the hiding uses the system's tools; the commands under test get the tools-only PATH
    const sh = `PATH=/usr/sbin:/usr/bin:/sbin:/bin; { ${hide}; } || { echo "cannot hide ${names}" >&2; exit 99; }; PATH='${env.PATH}'; ${script}`;
    return run('unshare', ['-m', 'sh', '-c', sh], { cwd, env });
  }

  /** mount, exec and run each stop with one line naming fuse3 and leave nothing behind. */
  async function fuseCommandsRefuse(hideDir: string, names: string, expected: RegExp): Promise<void> {
    const cwd = join(work.dir, `nofuse-${readdirSync(work.dir).length}`);
    mkdirSync(join(cwd, 'mnt'), { recursive: true });
    ok(await agentfs(['init', 'a'], cwd));
    const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }) : []);
    const before = { tmp: listing(env.TMPDIR!), home: listing(env.AGENTFS_HOME!), runtime: listing(env.AGENTFS_RUNTIME_DIR!) };
    const script = [
      'agentfs mount a mnt; echo "mount=$?"',
      'agentfs exec a ls; echo "exec=$?"',
      'agentfs run --session gone ls; echo "run=$?"',
      'agentfs fs write a /still.txt works && agentfs fs cat a /still.txt; echo " fs=$?"',
      'agentfs timeline a >/dev/null; echo "timeline=$?"',
    ].join('; ');
    const r = await without(hideDir, names, script, cwd);
    expect(r.stdout).toMatch(/mount=1\nexec=1\nrun=1\nworks fs=0\ntimeline=0/);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toMatch(/^agentfs: /);
      expect(line).toMatch(expected);
      expect(line).toContain('fuse3');
    }
    // nothing behind: no mount, no temporary directory, no session, no empty mountpoint change
    expect(readdirSync(join(cwd, 'mnt'))).toEqual([]);
    expect(listing(env.TMPDIR!)).toEqual(before.tmp);
    expect(listing(env.AGENTFS_HOME!)).toEqual(before.home);
    expect(listing(env.AGENTFS_RUNTIME_DIR!)).toEqual(before.runtime);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(join(cwd, 'mnt'));
  }

  it.skipIf(!isRoot)('without the libfuse 3 runtime, mount/exec/run name the package and the rest works', async () => {
    await fuseCommandsRefuse('/usr/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu/libfuse3.so.3*', /libfuse 3 runtime is not installed/);
  });

  it.skipIf(!isRoot)('without /dev/fuse, mount/exec/run say so and the rest works', async () => {
    await fuseCommandsRefuse('/dev', '/dev/fuse', /\/dev\/fuse is missing/);
  });

  it('with user namespaces switched off, run stops with one line and creates nothing', async () => {
    const cwd = join(work.dir, 'nouserns');
    mkdirSync(cwd);
    const home = join(work.dir, 'nouserns-home');
    // a user namespace of our own whose limit for nested namespaces is 0
    const r = await run(
      'unshare',
      ['-U', '-r', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && agentfs run --session s echo hi; echo "run=$?"'],
      { cwd, env: { ...env, AGENTFS_HOME: home } },
    );
    expect(r.stdout).toBe('run=1\n');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^agentfs: user namespaces are switched off or blocked here \(.*\); agentfs run needs them/);
    expect(existsSync(home)).toBe(false);
  });
});

describe('where no prebuild fits', () => {
  it('mount/exec/run name the command that builds the addon, and that build is then used', async () => {
    const native = join(prefix, 'lib', 'node_modules', 'agentfs', 'native');
    const prebuild = join(native, 'prebuilds', 'linux-x64', 'node.glibc.node');
    const aside = join(work.dir, 'prebuild-aside.node');
    renameSync(prebuild, aside);
    try {
      const cwd = join(work.dir, 'noprebuild');
      mkdirSync(cwd);
      ok(await agentfs(['init', 'a'], cwd));
      const r = await agentfs(['exec', 'a', 'true'], cwd);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `agentfs: no FUSE addon built for linux-x64; build one with \`cd ${native} && npx node-gyp rebuild\` (needs a C++ compiler, python3 and libfuse3-dev)\n`,
      );
      // that command where the tools are (node-gyp from this repository, Node's installed headers)
      const nodedir = dirname(dirname(process.execPath));
      const built = await run(process.execPath, [join(ROOT, 'node_modules/node-gyp/bin/node-gyp.js'), 'rebuild', `--nodedir=${nodedir}`], { cwd: native, timeoutMs: 600_000 });
      expect(built.code, built.stderr).toBe(0);
      expect(ok(await agentfs(['exec', 'a', 'sh', '-c', 'echo built > b.txt; cat b.txt'], cwd)).stdout).toBe('built\n');
    } finally {
      renameSync(aside, prebuild);
      rmSync(join(native, 'build'), { recursive: true, force: true });
    }
  });
});

describe('the SDK from another project', () => {
  let project: string;

  beforeAll(async () => {
    project = join(work.dir, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const typesNode = (JSON.parse(readFileSync(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;
    const r = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `@types/node@${typesNode}`], {
      cwd: project,
      env,
      timeoutMs: 600_000,
    });
    if (r.code !== 0) throw new Error(`npm install failed: ${r.stderr}`);
  }, 600_000);

  const program = `
const agent = await AgentFS.open({});
await agent.fs.writeFile('/hello.txt', 'from the sdk');
await agent.kv.set('n', { step: 2 });
const text = await agent.fs.readFile('/hello.txt', 'utf8');
const n = await agent.kv.get('n');
await agent.close();
console.log(JSON.stringify({ text, n }));
`;

  it('imports in plain ESM', async () => {
    writeFileSync(join(project, 'esm.mjs'), `import { AgentFS } from 'agentfs';\n${program}`);
    const r = ok(await run('node', ['esm.mjs'], { cwd: project, env }));
    expect(JSON.parse(r.stdout)).toEqual({ text: 'from the sdk', n: { step: 2 } });
  });

  it.skipIf(!(process.features as { require_module?: boolean }).require_module)('loads with require() where Node can require ES modules', async () => {
    writeFileSync(join(project, 'cjs.cjs'), `const { AgentFS } = require('agentfs');\n(async () => {${program}})();`);
    const r = ok(await run('node', ['cjs.cjs'], { cwd: project, env }));
    expect(JSON.parse(r.stdout)).toEqual({ text: 'from the sdk', n: { step: 2 } });
  });

  it('type-checks from a CommonJS TypeScript project with module nodenext, as the manual says', async () => {
    const dir = join(project, 'cjs-ts');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'cjs-ts', private: true, type: 'commonjs' }));
    writeFileSync(join(dir, 'main.ts'), `import { AgentFS } from 'agentfs';\nexport async function size(): Promise<number> {\n  const a = await AgentFS.open({});\n  return (await a.fs.stat('/')).size;\n}\n`);
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const check = async (module: string, resolution: string) => {
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module, moduleResolution: resolution, target: 'ES2022', noEmit: true, types: ['node'] }, files: ['main.ts'] }));
      return run('node', [tsc, '-p', 'tsconfig.json'], { cwd: dir, env });
    };
    const nodenext = await check('nodenext', 'nodenext');
    expect(nodenext.stdout).toBe('');
    expect(nodenext.code).toBe(0);
    // node16 cannot require an ES module: the manual says to use nodenext or import()
    expect((await check('node16', 'node16')).stdout).toContain('error TS1479');
  });

  it('type-checks a strict TypeScript project against it, and catches a wrong use', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, types: ['node'] }, files: ['main.ts'] }),
    );
    writeFileSync(
      join(project, 'main.ts'),
      `import { AgentFS, FsError, type ToolCall } from 'agentfs';\n${program}\nconst calls: ToolCall[] = [];\nexport { calls, FsError };\n`,
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const good = await run('node', [tsc, '-p', 'tsconfig.json'], { cwd: project, env });
    expect(good.stdout + good.stderr).toBe('');
    expect(good.code).toBe(0);

    writeFileSync(join(project, 'main.ts'), `import { AgentFS } from 'agentfs';\nconst agent = await AgentFS.open({});\nconst size: string = (await agent.fs.stat('/')).size;\nexport { size };\n`);
    const bad = await run('node', [tsc, '-p', 'tsconfig.json'], { cwd: project, env });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/main\.ts\(3,7\): error TS2322/);
  });
});
