import type { Command } from 'commander';
import { META } from '../../../core/agent.js';
import { chooseRemote, localStats, openSync, stats, SyncError, type RemoteDb } from '../../../sync/index.js';
import { refusedOption, remoteOptions, syncIdArgument, withLocal, type RemoteFlags } from './options.js';

/** The remote part of the stats gets this long in all; the local part is printed regardless. */
export const STATS_REMOTE_TIMEOUT_MS = 5000;

export function registerStats(sync: Command): void {
  const cmd = syncIdArgument(sync.command('stats').description('Print sync statistics as JSON (the local part even when the remote cannot be reached)'));
  remoteOptions(cmd);
  refusedOption(cmd, '--theirs', '--theirs applies to pull only');
  refusedOption(cmd, '--force', '--force applies to push and pull only');
  cmd.action(async (idArg: string, opts: RemoteFlags) => {
    await withLocal(idArg, async (local, agent) => {
      const stored = agent.store.getMeta(META.syncRemote);
      const given = opts.remote ?? stored;
      if (given === undefined) return void console.log(JSON.stringify(localStats(local, undefined), null, 2));
      let remote: RemoteDb;
      try {
        const choice = chooseRemote(stored, { url: opts.remote, authToken: opts.authToken });
        remote = openSync(agent.store, { ...choice, timeoutMs: STATS_REMOTE_TIMEOUT_MS }).remote;
      } catch (e) {
        // a remote that cannot even be asked (bad URL, bad token) leaves the local part
        if (!(e instanceof SyncError)) throw e;
        const s = localStats(local, given);
        s.remote = { known: false, reason: e.message };
        return void console.log(JSON.stringify(s, null, 2));
      }
      try {
        console.log(JSON.stringify(await stats(local, remote, STATS_REMOTE_TIMEOUT_MS), null, 2));
      } finally {
        remote.close();
      }
    });
  });
}
