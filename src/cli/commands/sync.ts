/**
 * `agentfs sync <action> ID ...`: one subcommand module per action under ./sync/, registered
 * here. `agentfs sync ID <action>` works too (dispatched by the parent command).
 */
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { registerPush } from './sync/push.js';
import { registerPull } from './sync/pull.js';
import { registerStatus } from './sync/status.js';
import { registerStats } from './sync/stats.js';
import { registerCheckpoint } from './sync/checkpoint.js';

/** Action name and its registration, in help order. */
export const SYNC_ACTIONS: [name: string, register: (sync: Command) => void][] = [
  ['push', registerPush],
  ['pull', registerPull],
  ['status', registerStatus],
  ['stats', registerStats],
  ['checkpoint', registerCheckpoint],
];

export function registerSync(program: Command): void {
  const sync = program
    .command('sync')
    .description('Push/pull the agent to/from a remote Turso (libSQL) database, show sync status and statistics, compact sync state')
    .usage('<action> <ID> [options]  (or: sync <ID> <action> [options])')
    // reached when the first word is not an action: `sync ID ACTION ...` (the id-first order other
    // AgentFS docs use) is dispatched here; anything else gets a one-line error
    // its description lists the actions, so completion offers them after an ID too
    .argument('[words...]', SYNC_ACTIONS.map(([n]) => n).join(' | '))
    .allowUnknownOption()
    .action(async (_words: string[], _opts: unknown, cmd: Command) => {
      const args = cmd.args;
      const names = SYNC_ACTIONS.map(([n]) => n);
      const words = args.map((a, i) => ({ a, i })).filter(({ a }) => !a.startsWith('-'));
      // `sync ID ACTION` first (as before subcommands: an agent may be named like an action), then
      // an action anywhere (after an option's value: `sync --remote URL ID push`)
      const pick = words[1] && names.includes(words[1].a) ? words[1] : words.find(({ a }) => names.includes(a));
      if (pick) {
        const sub = sync.commands.find((c) => c.name() === pick.a)!;
        return void (await sub.parseAsync(args.filter((_, i) => i !== pick.i), { from: 'user' }));
      }
      const list = `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
      if (!words.length) throw new UserError(`missing sync action: use agentfs sync ID ${names.join('|')}`);
      if (words.length < 2) throw new UserError(`missing sync action after '${words[0]!.a}': use ${list}`);
      throw new UserError(`unknown sync action '${words[1]!.a}': use ${list}`);
    });
  for (const [, register] of SYNC_ACTIONS) register(sync);
}
