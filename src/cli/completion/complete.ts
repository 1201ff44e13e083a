/**
 * Shell completion computed from the CLI's own command definitions (commander), so it never lags
 * the CLI: the shell scripts (./scripts.ts) hand the words typed so far to `agentfs __complete`,
 * which walks the program to the word being completed and answers with candidates.
 */
import type { Argument, Command, Option } from 'commander';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isValidId } from '../../store/index.js';

export interface Candidate {
  value: string;
  description?: string;
}

/** Host paths or command names the shell itself should add (it knows quoting and its own PATH). */
export type ShellCompletion = 'files' | 'dirs' | 'commands';

export interface Completion {
  candidates: Candidate[];
  shell?: ShellCompletion;
}

export interface CompleteContext {
  cwd: string;
  /** run session ids (`agentfs run --session`), listed on demand */
  sessions?: () => string[];
}

/**
 * Completes the last of `words` (the words after `agentfs`; the last one is being typed and
 * may be empty) against the program's commands, options and arguments.
 */
export function complete(program: Command, words: string[], ctx: CompleteContext): Completion {
  const current = words.length ? words[words.length - 1]! : '';
  let cmd = program;
  let positional = 0;
  let argsOnly = false; // after `--`, or past the first argument of a pass-through command
  let pending: Option | undefined; // an option whose value is the next word
  for (const word of words.slice(0, -1)) {
    if (pending) {
      pending = undefined;
    } else if (!argsOnly && word === '--') {
      argsOnly = true;
    } else if (!argsOnly && word.startsWith('-') && word !== '-') {
      const option = findOption(cmd, word);
      if (option?.required && !word.includes('=')) pending = option;
    } else {
      const sub = positional === 0 && !argsOnly ? findCommand(cmd, word) : undefined;
      if (sub) {
        cmd = sub;
        continue;
      }
      positional++;
      if ((cmd as unknown as { _passThroughOptions?: boolean })._passThroughOptions) argsOnly = true;
    }
  }

  let result: Completion;
  if (pending) result = valuesFor(pending.flags, pending.description, pending.argChoices, current, ctx);
  else if (!argsOnly && current.startsWith('-')) result = { candidates: optionsOf(cmd) };
  else if (positional === 0 && !argsOnly && visibleCommands(cmd).length) result = { candidates: visibleCommands(cmd) };
  else result = argumentValues(cmd, positional, current, ctx);
  result.candidates = result.candidates.filter((c) => c.value.startsWith(current));
  return result;
}

function visibleCommands(cmd: Command): Candidate[] {
  return cmd
    .createHelp()
    .visibleCommands(cmd)
    .map((c) => ({ value: c.name(), description: c.description() }));
}

function findCommand(cmd: Command, word: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
}

/** An option of the command or of a command above it (`--flag=value` and `--flag` alike). */
function findOption(cmd: Command, word: string): Option | undefined {
  const flag = word.split('=')[0];
  for (let c: Command | null = cmd; c; c = c.parent) {
    const found = c.options.find((o) => o.long === flag || o.short === flag);
    if (found) return found;
  }
  return undefined;
}

function optionsOf(cmd: Command): Candidate[] {
  return cmd
    .createHelp()
    .visibleOptions(cmd)
    .map((o) => ({ value: o.long ?? o.short ?? o.flags, description: o.description }));
}

/** The value of positional argument `index` (0-based) of cmd. */
function argumentValues(cmd: Command, index: number, current: string, ctx: CompleteContext): Completion {
  const args = cmd.registeredArguments;
  const last = args[args.length - 1];
  const arg: Argument | undefined = args[index] ?? (last?.variadic ? last : undefined);
  if (!arg) return { candidates: [] };
  const name = arg.name().toUpperCase();
  if (name === 'CMD') return { candidates: [], shell: index === args.indexOf(arg) ? 'commands' : 'files' };
  return valuesFor(name, arg.description, arg.argChoices, current, ctx);
}

/**
 * Values of an argument or option value, by its placeholder: agent ids (and session ids where
 * the help mentions sessions), directories, files, or the choices it lists (`push | pull`).
 */
function valuesFor(placeholder: string, description: string, choices: string[] | undefined, current: string, ctx: CompleteContext): Completion {
  if (choices?.length) return { candidates: choices.map((value) => ({ value })) };
  const listed = listedChoices(description);
  if (listed) return { candidates: listed.map((value) => ({ value })) };
  const name = placeholder.replace(/^.*[<[]|[>\]]$|\.\.\./g, '').toUpperCase();
  if (/^(MOUNTPOINT|DIR)$/.test(name)) return { candidates: [], shell: 'dirs' };
  if (/^(FILE|OUT|OUTPUT)$/.test(name)) return { candidates: [], shell: 'files' };
  if (/^ID(_OR_PATH)?$/.test(name)) {
    // only names the CLI accepts: others (a hand-made `.agentfs/$(cmd).db`, a name with a
    // newline) would break the line protocol or land unquoted on the command line
    const sessions = (/session/i.test(description) && ctx.sessions ? ctx.sessions() : []).filter(isValidId);
    const onlySessions = /^session id/i.test(description);
    const candidates = [
      ...(onlySessions ? [] : agentIds(ctx.cwd).map((value) => ({ value, description: 'agent' }))),
      ...sessions.map((value) => ({ value, description: 'run session' })),
    ];
    // a path to a .db file is accepted too
    const pathLike = current.includes('/') || current.startsWith('.') || current.startsWith('~');
    return { candidates, shell: pathLike && !onlySessions ? 'files' : undefined };
  }
  return { candidates: [] };
}

/** Choices a help text lists and nothing else: `push | pull | status`, `table, json or ndjson`. */
function listedChoices(description: string): string[] | undefined {
  const text = description.trim();
  if (/^[\w-]+(\s*\|\s*[\w-]+)+$/.test(text)) return text.split('|').map((s) => s.trim());
  if (/^[\w-]+(, [\w-]+)* or [\w-]+$/.test(text)) return text.split(/, | or /);
  return undefined;
}

/** Agent ids: the databases in `.agentfs/` of the working directory. */
export function agentIds(cwd: string): string[] {
  try {
    return readdirSync(join(cwd, '.agentfs'))
      .filter((f) => f.endsWith('.db'))
      .map((f) => f.slice(0, -3))
      .filter(isValidId)
      .sort();
  } catch {
    return [];
  }
}
