import type { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { complete } from '../completion/complete.js';
import { completionFile, completionLocation, completionScript, formatCompletion, isShell, SHELLS, type Shell } from '../completion/scripts.js';
import { UserError } from '../errors.js';

/** The shell named, or the one in $SHELL. */
function pickShell(name: string | undefined): Shell {
  const chosen = name ?? (process.env.SHELL ? basename(process.env.SHELL) : undefined);
  if (chosen === undefined) throw new UserError(`no SHELL given and $SHELL is not set: name one of ${SHELLS.join(', ')}`);
  if (!isShell(chosen)) throw new UserError(`unsupported shell '${chosen}'${name ? '' : ' (from $SHELL)'}: use ${SHELLS.join(', ')}`);
  return chosen;
}

/** What the user has to add to make the shell read the installed file, if anything. */
function loadHint(shell: Shell, file: string): string | undefined {
  if (shell === 'bash') {
    const loader = ['/usr/share/bash-completion/bash_completion', '/etc/bash_completion'].some((f) => existsSync(f));
    return loader ? 'bash-completion loads it in new shells' : `bash-completion is not installed: add \`source ${file}\` to ~/.bashrc`;
  }
  if (shell === 'zsh') {
    const zshrc = join(completionLocation('zsh').root, '.zshrc');
    const rc = existsSync(zshrc) ? readFileSync(zshrc, 'utf8') : '';
    const dir = dirname(file);
    return rc.includes('.zfunc') || rc.includes(dir)
      ? 'new zsh shells load it'
      : `add \`fpath=(${dir} $fpath); autoload -Uz compinit && compinit\` to ${zshrc}`;
  }
  return 'new fish shells load it';
}

/** The directories `install` may have made for the file, while they are empty, below root. */
function removeEmptyParents(dir: string, root: string): void {
  for (let d = dir; d !== root && d.startsWith(`${root}/`); d = dirname(d)) {
    try {
      if (readdirSync(d).length) return;
      rmdirSync(d);
    } catch {
      return;
    }
  }
}

export function registerCompletions(program: Command): void {
  const completions = program.command('completions').description('Shell completions for bash, zsh and fish');
  completions
    .command('install')
    .description("Install completions for SHELL (default: $SHELL) in the shell's user completion directory")
    .argument('[SHELL]', SHELLS.join(' | '))
    .action((name: string | undefined) => {
      const shell = pickShell(name);
      const file = completionFile(shell);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, completionScript(shell));
      console.log(`Installed ${shell} completions in ${file} (${loadHint(shell, file)})`);
    });
  completions
    .command('uninstall')
    .description('Remove the completions `completions install` wrote for SHELL (default: $SHELL)')
    .argument('[SHELL]', SHELLS.join(' | '))
    .action((name: string | undefined) => {
      const shell = pickShell(name);
      const { file, root } = completionLocation(shell);
      if (!existsSync(file)) {
        console.log(`No ${shell} completions installed (${file} does not exist)`);
        return;
      }
      rmSync(file);
      removeEmptyParents(dirname(file), root);
      console.log(`Removed ${file}`);
    });
  completions
    .command('show')
    .description('Print the completion script for SHELL (default: $SHELL)')
    .argument('[SHELL]', SHELLS.join(' | '))
    .action((name: string | undefined) => {
      process.stdout.write(completionScript(pickShell(name)));
    });

  // What the scripts call on each <Tab>: the words after `agentfs`, the last one being typed.
  program
    .command('__complete', { hidden: true })
    .argument('<SHELL>')
    .argument('[WORDS...]')
    .action(async (name: string, words: string[], _opts: unknown, cmd: Command) => {
      if (!isShell(name)) throw new UserError(`unsupported shell '${name}'`);
      const { listSessions } = await import('../../sandbox/sessions.js');
      const result = complete(cmd.parent!, words.length ? words : [''], {
        cwd: process.cwd(),
        sessions: () => listSessions().map((s) => s.id).sort(),
      });
      process.stdout.write(formatCompletion(name, result));
    });
}
