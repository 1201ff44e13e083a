import type { Command } from 'commander';
import { pull, redact } from '../../../sync/index.js';
import { UserError } from '../../errors.js';
import { formatBytes } from './format.js';
import { rememberRemote, remoteOptions, syncIdArgument, withRemote, type RemoteFlags } from './options.js';

export function registerPull(sync: Command): void {
  const cmd = syncIdArgument(sync.command('pull').description("Bring the remote's changes since the last sync (everything the first time)"));
  remoteOptions(cmd)
    .option('--force', 'where both sides changed the same thing, ours wins (kept, and sent by the next push)')
    .option('--theirs', 'where both sides changed the same thing, the remote wins');
  cmd.action(async (idArg: string, opts: RemoteFlags & { force?: boolean; theirs?: boolean }) => {
    if (opts.theirs && opts.force) throw new UserError('--force and --theirs contradict each other');
    await withRemote(idArg, opts, async ({ agent, local, remote, url }) => {
      const r = await pull(local, remote, { theirs: opts.theirs, force: opts.force });
      rememberRemote(agent, url);
      if (opts.json) return void console.log(JSON.stringify(r));
      if (r.upToDate) console.log(`Already up to date (remote revision ${r.revision})`);
      else
        console.log(
          `Pulled ${r.rows} rows${r.deletes ? ` and ${r.deletes} deletions` : ''} from ${redact(url)}: revision ${r.revision}${r.full ? ' (full)' : ''}, ${formatBytes(r.bytes)} in ${r.requests} requests, ${r.seconds.toFixed(1)} s`,
        );
      if (r.conflictsResolved) console.log(`Resolved ${r.conflictsResolved} conflicts (${opts.theirs ? 'theirs' : 'ours'} won)`);
      if (r.renumberedToolCalls) console.log(`Renumbered ${r.renumberedToolCalls} local tool calls after the remote's`);
    });
  });
}
