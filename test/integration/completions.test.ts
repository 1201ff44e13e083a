/**
 * `agentfs completions`: the scripts installed where each shell looks, completing in the real
 * shells (bash: the function `complete -p` names, called as bash's completion would; fish:
 * `complete -C`; zsh: an interactive zsh driven through zpty), from the command definitions
 * and the agents in `.agentfs/`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, run, runCli, tempDir } from '../support/cli.js';

const hasShell = (name: string): boolean => ['/usr/bin', '/bin'].some((d) => existsSync(join(d, name)));

let t: { dir: string; cleanup: () => void };
let project: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  t = tempDir('agentfs-completions-');
  // `agentfs` on PATH, as after `npm install -g`, for the scripts to call
  const bin = join(t.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'agentfs'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(bin, 'agentfs'), 0o755);
  const home = join(t.dir, 'home');
  mkdirSync(home);
  env = { PATH: `${bin}:${process.env.PATH}`, HOME: home, AGENTFS_HOME: join(t.dir, 'agentfs-home'), SHELL: '/bin/bash', XDG_DATA_HOME: '', XDG_CONFIG_HOME: '', ZDOTDIR: '', BASH_COMPLETION_USER_DIR: '' };
  project = join(t.dir, 'project');
  mkdirSync(join(project, 'sub'), { recursive: true });
  for (const id of ['alpha', 'beta']) expect((await runCli(['init', id], { cwd: project, env })).code).toBe(0);
});

afterAll(() => t?.cleanup());

function cli(args: string[], extra: NodeJS.ProcessEnv = {}) {
  return runCli(args, { cwd: project, env: { ...env, ...extra } });
}

/** The command names `agentfs --help` lists. */
async function helpCommands(args: string[] = []): Promise<string[]> {
  const help = (await cli([...args, '--help'])).stdout;
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}([\w-]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

describe('bash', () => {
  let script: string;
  beforeAll(async () => {
    const r = await cli(['completions', 'install', 'bash']);
    expect(r.code).toBe(0);
    script = join(env.HOME!, '.local/share/bash-completion/completions/agentfs');
    expect(r.stdout).toContain(`Installed bash completions in ${script}`);
  });

  /** Sources the installed script and completes `words` (the last one being typed) as bash would. */
  async function bashComplete(words: string[]): Promise<string[]> {
    const quoted = ['agentfs', ...words].map((w) => `'${w}'`).join(' ');
    const r = await run(
      'bash',
      ['--norc', '-c', `source '${script}'; complete -p agentfs; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _agentfs; printf '%s\\n' "\${COMPREPLY[@]}"`],
      { cwd: project, env },
    );
    expect(r.stderr).toBe('');
    const [spec, ...lines] = r.stdout.trim().split('\n');
    expect(spec).toBe('complete -F _agentfs agentfs');
    return lines.filter(Boolean);
  }

  it('completes every command the CLI has, and nothing hidden', async () => {
    const got = await bashComplete(['']);
    expect(got.sort()).toEqual((await helpCommands()).sort());
    expect(got).toContain('completions');
    expect(got).not.toContain('__complete');
    expect(await bashComplete(['mo'])).toEqual(['mount']);
  });

  it('completes subcommands, options, choices and agent ids from .agentfs/', async () => {
    expect((await bashComplete(['fs', ''])).sort()).toEqual((await helpCommands(['fs'])).sort());
    expect(await bashComplete(['fs', 'ls', ''])).toEqual(['alpha', 'beta']);
    expect(await bashComplete(['fs', 'cat', 'b'])).toEqual(['beta']);
    expect(await bashComplete(['sync', 'alpha', ''])).toEqual(['push', 'pull', 'status', 'stats', 'checkpoint']);
    expect(await bashComplete(['sync', 'push', ''])).toEqual(['alpha', 'beta']);
    expect(await bashComplete(['completions', 'install', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(await bashComplete(['timeline', 'alpha', '--format', ''])).toEqual(['table', 'json', 'ndjson']);
    const timeline = await bashComplete(['timeline', 'alpha', '--']);
    expect(timeline).toEqual(expect.arrayContaining(['--format', '--limit', '--status', '--help']));
    expect(await bashComplete(['kv', 'set', '--'])).toEqual(expect.arrayContaining(['--help']));
    expect(await bashComplete(['kv', 'set', '--'])).not.toContain('--format');
  });

  it('leaves host paths and command names to bash', async () => {
    expect(await bashComplete(['mount', 'alpha', 's'])).toEqual(['sub']);
    expect(await bashComplete(['exec', 'alpha', 'bas'])).toContain('bash');
  });

  it('offers run session ids where a session is meant', async () => {
    expect((await cli(['run', '--session', 'sess1', 'true'])).code).toBe(0);
    expect(await bashComplete(['run', '--session', ''])).toEqual(['sess1']);
    expect(await bashComplete(['diff', ''])).toEqual(['alpha', 'beta', 'sess1']);
    expect(await bashComplete(['fs', 'ls', ''])).toEqual(['alpha', 'beta', 'sess1']);
    expect(await bashComplete(['kv', 'list', ''])).toEqual(['alpha', 'beta', 'sess1']);
  });
});

describe('hostile names', () => {
  let weird: string;
  let script: string;
  let weirdEnv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    weirdEnv = { ...env, AGENTFS_HOME: join(t.dir, 'agentfs-home-weird') };
    weird = join(t.dir, 'weird');
    mkdirSync(join(weird, '.agentfs'), { recursive: true });
    expect((await runCli(['init', 'good'], { cwd: weird, env })).code).toBe(0);
    // files in .agentfs/ that are no agent id: each would break the line protocol, glob, or put
    // a command substitution on the user's command line
    for (const name of ['a b', "q'uote", 'd"q', 'nl\nx', '$(touch PWNED)', '`touch PWNED`', '*', ':files', '-rf', 'x;touch PWNED']) {
      writeFileSync(join(weird, '.agentfs', `${name}.db`), '');
    }
    for (const f of ['*', 'a', 'b']) writeFileSync(join(weird, f), '');
    for (const d of ['[ab]', 'd 1', '?']) mkdirSync(join(weird, d));
    // a session record whose id is no id either
    const sessions = join(t.dir, 'agentfs-home-weird', 'sessions');
    mkdirSync(sessions, { recursive: true });
    writeFileSync(join(sessions, 'evil.json'), JSON.stringify({ id: '$(touch PWNED)', database: '/nope.db', base: weird, createdAt: '2026-01-01T00:00:00Z' }));
    const home = join(t.dir, 'home-weird');
    expect((await cli(['completions', 'install', 'bash'], { HOME: home })).code).toBe(0);
    script = join(home, '.local/share/bash-completion/completions/agentfs');
  });

  /** Completes in bash as the bash test above does; also returns what bash's own compgen gives. */
  async function bash(words: string[], compgen?: string): Promise<{ got: string[]; expected: string[] }> {
    const quoted = ['agentfs', ...words].map((w) => `'${w}'`).join(' ');
    const reference = compgen ? `echo ===; compgen ${compgen} -- '${words[words.length - 1]}'` : '';
    const r = await run('bash', ['--norc', '-c', `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}; _agentfs; printf '%s\\n' "\${COMPREPLY[@]}"; ${reference}`], {
      cwd: weird,
      env: weirdEnv,
    });
    expect(r.stderr).toBe('');
    const [got, expected] = r.stdout.split('===\n');
    const lines = (s = '') => s.split('\n').filter(Boolean).sort();
    return { got: lines(got), expected: lines(expected) };
  }

  it('offers only names that are agent or session ids', async () => {
    expect((await bash(['fs', 'ls', ''])).got).toEqual(['good']);
    expect((await bash(['diff', ''])).got).toEqual(['good']);
    expect((await bash(['run', '--session', ''])).got).toEqual([]);
    const zsh = await run(process.execPath, [CLI, '__complete', 'zsh', '--', 'fs', 'ls', ''], { cwd: weird, env: weirdEnv });
    expect(zsh.stdout).toBe('good:agent\n');
    expect(existsSync(join(weird, 'PWNED'))).toBe(false);
  });

  it('hands host paths over unglobbed, one per name', async () => {
    const dirs = await bash(['mount', 'good', ''], '-d');
    expect(dirs.got).toEqual(dirs.expected);
    expect(dirs.got).toEqual(expect.arrayContaining(['[ab]', 'd 1', '?']));
    const files = await bash(['exec', 'good', 'ls', ''], '-f');
    expect(files.got).toEqual(files.expected);
    expect(files.got).toEqual(expect.arrayContaining(['*', 'a', 'b', 'd 1']));
  });
});

describe('install and uninstall', () => {
  it('installs for the shell in $SHELL, says where, and uninstall removes exactly that', async () => {
    const home = join(t.dir, 'home-fish');
    const config = join(home, 'config');
    const file = join(config, 'fish', 'completions', 'agentfs.fish');
    const inst = await cli(['completions', 'install'], { HOME: home, SHELL: '/usr/bin/fish', XDG_CONFIG_HOME: config });
    expect(inst.code).toBe(0);
    expect(inst.stdout).toBe(`Installed fish completions in ${file} (new fish shells load it)\n`);
    expect(readFileSync(file, 'utf8')).toBe((await cli(['completions', 'show', 'fish'])).stdout);
    writeFileSync(join(config, 'fish', 'completions', 'other.fish'), '# not ours\n');

    const un = await cli(['completions', 'uninstall'], { HOME: home, SHELL: '/usr/bin/fish', XDG_CONFIG_HOME: config });
    expect(un.code).toBe(0);
    expect(un.stdout).toBe(`Removed ${file}\n`);
    expect(readdirSync(join(config, 'fish', 'completions'))).toEqual(['other.fish']);
    const again = await cli(['completions', 'uninstall', 'fish'], { HOME: home, XDG_CONFIG_HOME: config });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No fish completions installed');
  });

  it('uninstall leaves the home directory as install found it', async () => {
    const home = join(t.dir, 'home-roundtrip');
    mkdirSync(home);
    for (const shell of ['bash', 'zsh', 'fish']) {
      expect((await cli(['completions', 'install', shell], { HOME: home })).code).toBe(0);
      expect((await cli(['completions', 'uninstall', shell], { HOME: home })).code).toBe(0);
      expect(readdirSync(home, { recursive: true }), shell).toEqual([]);
    }
    // a directory that holds something else stays
    mkdirSync(join(home, '.zfunc'));
    writeFileSync(join(home, '.zfunc', '_other'), '');
    expect((await cli(['completions', 'install', 'zsh'], { HOME: home })).code).toBe(0);
    expect((await cli(['completions', 'uninstall', 'zsh'], { HOME: home })).code).toBe(0);
    expect(readdirSync(join(home, '.zfunc'))).toEqual(['_other']);
  });

  it('ignores relative XDG directories and writes nothing in the working directory', async () => {
    const home = join(t.dir, 'home-relative');
    const cwd = join(t.dir, 'cwd-relative');
    mkdirSync(cwd);
    const rel = { HOME: home, XDG_DATA_HOME: 'data', XDG_CONFIG_HOME: 'config', ZDOTDIR: 'zdot', BASH_COMPLETION_USER_DIR: 'bc' };
    const files = { bash: '.local/share/bash-completion/completions/agentfs', zsh: '.zfunc/_agentfs', fish: '.config/fish/completions/agentfs.fish' };
    for (const [shell, file] of Object.entries(files)) {
      const r = await runCli(['completions', 'install', shell], { cwd, env: { ...env, ...rel } });
      expect(r.stdout).toContain(`Installed ${shell} completions in ${join(home, file)} `);
      expect(existsSync(join(home, file))).toBe(true);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)('with HOME empty, uses the account home (not the working directory)', async () => {
    // uid 65534 (nobody) has a home that does not exist and cannot be made
    const cwd = join(t.dir, 'cwd-nohome');
    mkdirSync(cwd, { mode: 0o777 });
    chmodSync(cwd, 0o777);
    const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'completions', 'install', 'fish'], {
      cwd,
      env: { ...env, HOME: '', XDG_CONFIG_HOME: '' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agentfs: [^\n]*\/nonexistent[^\n]*\n$/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('refuses a shell it does not know, in one line, writing nothing', async () => {
    const home = join(t.dir, 'home-tcsh');
    mkdirSync(home);
    const r = await cli(['completions', 'install'], { HOME: home, SHELL: '/bin/tcsh' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("agentfs: unsupported shell 'tcsh' (from $SHELL): use bash, zsh, fish\n");
    expect(readdirSync(home)).toEqual([]);
    const bad = await cli(['completions', 'show', 'powershell']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(!hasShell('fish'))('fish', () => {
  it('completes through the installed script', async () => {
    const home = join(t.dir, 'home-fish2');
    expect((await cli(['completions', 'install', 'fish'], { HOME: home })).code).toBe(0);
    const fish = async (line: string): Promise<string[]> => {
      const r = await run('fish', ['--no-config', '-c', `source ${home}/.config/fish/completions/agentfs.fish; complete -C'${line}'`], { cwd: project, env: { ...env, HOME: home } });
      expect(r.stderr).toBe('');
      return r.stdout.trim().split('\n');
    };
    // every agent argument takes run session ids too (the bash test above made sess1)
    expect((await fish('agentfs fs ls ')).filter((l) => !l.startsWith('sess1\t'))).toEqual(['alpha\tagent', 'beta\tagent']);
    expect(await fish('agentfs sync alpha pu')).toEqual(['pull', 'push']);
    expect((await fish('agentfs ')).map((l) => l.split('\t')[0]).sort()).toEqual((await helpCommands()).sort());
    expect(await fish('agentfs mount alpha su')).toContain('sub/\tDirectory');
  });
});

describe.skipIf(!hasShell('zsh'))('zsh', () => {
  it('completes in an interactive zsh from ~/.zfunc', async () => {
    const home = join(t.dir, 'home-zsh');
    const inst = await cli(['completions', 'install', 'zsh'], { HOME: home });
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain(`Installed zsh completions in ${home}/.zfunc/_agentfs`);
    const zsh = async (line: string): Promise<string[]> => {
      const r = await run('zsh', ['-f', join(ROOT, 'test/support/zsh-complete.zsh'), join(home, '.zfunc'), line], { cwd: project, env: { ...env, HOME: home }, timeoutMs: 30_000 });
      return r.stdout.trim().split('\n');
    };
    expect((await zsh('agentfs fs ls ')).filter((l) => l !== 'sess1')).toEqual(['alpha', 'beta']);
    expect(await zsh('agentfs sync alpha ')).toEqual(['checkpoint', 'pull', 'push', 'stats', 'status']);
    expect(await zsh('agentfs fs ')).toEqual((await helpCommands(['fs'])).sort());
  });
});
