/**
 * The completion scripts for each shell, and where each shell looks for a user's completions.
 * The scripts are thin: the candidates come from `agentfs __complete SHELL -- WORDS...`
 * (./complete.ts), one per line, plus `:files`, `:dirs` or `:commands` when the shell should
 * add host paths or command names itself.
 */
import { userHome } from '../../core/home.js';
import { isAbsolute, join } from 'node:path';
import type { Candidate, Completion } from './complete.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export function isShell(name: string): name is Shell {
  return (SHELLS as readonly string[]).includes(name);
}

/**
 * The user-level file each shell loads completions from (honouring the XDG variables), and the
 * directory it belongs under (`uninstall` removes the directories it emptied up to that one).
 * Relative or empty variables are ignored, as the XDG spec says, so nothing lands in the cwd.
 */
export function completionLocation(shell: Shell, env: NodeJS.ProcessEnv = process.env): { file: string; root: string } {
  const abs = (v: string | undefined): string | undefined => (v && isAbsolute(v) ? v : undefined);
  // an empty or relative HOME (`HOME= agentfs ...`) falls back to the account's home directory
  const home = userHome(env);
  switch (shell) {
    case 'bash': {
      // bash-completion loads completions/<command> from here on first use
      const user = abs(env.BASH_COMPLETION_USER_DIR);
      if (user) return { file: join(user, 'completions', 'agentfs'), root: user };
      const data = abs(env.XDG_DATA_HOME);
      return { file: join(data ?? join(home, '.local', 'share'), 'bash-completion', 'completions', 'agentfs'), root: data ?? home };
    }
    case 'zsh': {
      // a directory of completion functions on $fpath (the ~/.zfunc convention)
      const root = abs(env.ZDOTDIR) ?? home;
      return { file: join(root, '.zfunc', '_agentfs'), root };
    }
    case 'fish': {
      const root = abs(env.XDG_CONFIG_HOME) ?? home;
      return { file: join(abs(env.XDG_CONFIG_HOME) ?? join(home, '.config'), 'fish', 'completions', 'agentfs.fish'), root };
    }
  }
}

export function completionFile(shell: Shell, env: NodeJS.ProcessEnv = process.env): string {
  return completionLocation(shell, env).file;
}

/** `__complete`'s answer in the form the shell's script reads. */
export function formatCompletion(shell: Shell, completion: Completion): string {
  const line = (c: Candidate): string => {
    if (shell === 'bash' || !c.description) return shell === 'zsh' ? c.value.replace(/:/g, '\\:') : c.value;
    const description = c.description.split('\n')[0]!;
    return shell === 'zsh' ? `${c.value.replace(/:/g, '\\:')}:${description}` : `${c.value}\t${description}`;
  };
  const lines = completion.candidates.map(line);
  if (completion.shell) lines.push(`:${completion.shell}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

const HEADER = (shell: Shell): string =>
  `# agentfs completion for ${shell} (\`agentfs completions show ${shell}\`). The candidates come from
# the installed agentfs itself (\`agentfs __complete\`), so they follow its commands and options.`;

export function completionScript(shell: Shell): string {
  switch (shell) {
    case 'bash':
      // Lines are read with `read -r`, never from an unquoted $(...): that would glob
      // (a file named '*') and split names with spaces.
      return `${HEADER(shell)}
_agentfs_add() {
  local c
  while IFS= read -r c; do COMPREPLY+=("$c"); done
}
_agentfs() {
  local cur=\${COMP_WORDS[COMP_CWORD]} line
  COMPREPLY=()
  while IFS= read -r line; do
    case $line in
      :files) compopt -o filenames 2>/dev/null; _agentfs_add < <(compgen -f -- "$cur") ;;
      :dirs) compopt -o filenames 2>/dev/null; _agentfs_add < <(compgen -d -- "$cur") ;;
      :commands) _agentfs_add < <(compgen -c -- "$cur") ;;
      ?*) COMPREPLY+=("$line") ;;
    esac
  done < <(command agentfs __complete bash -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
}
complete -F _agentfs agentfs
`;
    case 'zsh':
      return `#compdef agentfs
${HEADER(shell)}
_agentfs() {
  local -a candidates lines
  local line
  lines=("\${(@f)$(command agentfs __complete zsh -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for line in "\${lines[@]}"; do
    case $line in
      :files) _files ;;
      :dirs) _files -/ ;;
      :commands) _command_names -e ;;
      ?*) candidates+=("$line") ;;
    esac
  done
  (( \${#candidates} )) && _describe -t values agentfs candidates
  return 0
}
if [[ $funcstack[1] == _agentfs ]]; then _agentfs "$@"; else compdef _agentfs agentfs; fi
`;
    case 'fish':
      return `${HEADER(shell)}
function __agentfs_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    for line in (command agentfs __complete fish -- $tokens[2..-1] "$current" 2>/dev/null)
        switch $line
            case :files
                __fish_complete_path "$current"
            case :dirs
                __fish_complete_directories "$current"
            case :commands
                complete -C "$current"
            case '*'
                echo $line
        end
    end
end
complete -c agentfs -f -a '(__agentfs_complete)'
`;
  }
}
