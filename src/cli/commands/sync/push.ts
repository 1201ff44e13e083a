import type { Command } from 'commander';
import { push, redact } from '../../../sync/index.js';
import { formatBytes } from './format.js';
import { SYNCED_TABLES } from '../../../core/sync-state/index.js';
import { checkForeignText } from '../../../store/index.js';
import { refusedOption, rememberRemote, remoteOptions, syncIdArgument, withRemote, type RemoteFlags } from './options.js';

export function registerPush(sync: Command): void {
  const cmd = syncIdArgument(sync.command('push').description('Send what changed since the last sync to the remote, as one new revision'));
  remoteOptions(cmd).option('--force', 'where both sides changed the same thing, ours wins (overwrite the remote)');
  refusedOption(cmd, '--theirs', '--theirs applies to pull only');
  cmd.action(async (idArg: string, opts: RemoteFlags & { force?: boolean }) => {
    await withRemote(idArg, opts, async ({ agent, local, remote, url }) => {
      const r = await push(local, remote, { force: opts.force });
      rememberRemote(agent, url);
      if (opts.json) return void console.log(JSON.stringify(r));
      if (r.upToDate) console.log(`Everything up to date (remote revision ${r.revision})`);
      else
        console.log(
          `Pushed ${r.rows} rows${r.deletes ? ` and ${r.deletes} deletions` : ''} to ${redact(url)}: revision ${r.revision}${r.full ? ' (full)' : ''}${r.resumed ? ' (resumed)' : ''}, ${formatBytes(r.bytes)} in ${r.requests} requests, ${r.seconds.toFixed(1)} s`,
        );
      if (r.renumberedToolCalls) console.log(`Renumbered ${r.renumberedToolCalls} local tool calls after the remote's`);
      if (r.remoteAhead) console.log('The remote has changes from elsewhere: run `agentfs sync ' + idArg + ' pull` to get them');
    }, {
      create: true,
      // text another program stored as non-UTF-8 would abort libsql mid-push: one line, before
      // anything (a file: remote) is created
      before: (agent) => checkForeignText(agent.store, SYNCED_TABLES.map((t) => t.name)),
    });
  });
}
