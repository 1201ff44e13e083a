import type { Command } from 'commander';
import { META } from '../../../core/agent.js';
import { chooseRemote, chooseTimeout, hideSecrets, localStats, openSync, stats, SyncError, type RemoteDb, type SyncStats } from '../../../sync/index.js';
import { refusedOption, remoteOptions, secretsOf, syncIdArgument, withLocal, type RemoteFlags } from './options.js';

/** The remote part of the stats gets at most this long in all (less if --timeout says so); the local part is printed regardless. */
export const STATS_REMOTE_TIMEOUT_MS = 5000;

export function registerStats(sync: Command): void {
  const cmd = syncIdArgument(sync.command('stats').description('Print sync statistics as JSON (the local part even when the remote cannot be reached)'));
  remoteOptions(cmd);
  refusedOption(cmd, '--theirs', '--theirs applies to pull only');
  refusedOption(cmd, '--force', '--force applies to push and pull only');
  cmd.action(async (idArg: string, opts: RemoteFlags) => {
    // a bad --timeout is the user's mistake, not the remote's: refused before anything else
    const probeMs = Math.min(chooseTimeout(opts.timeout), STATS_REMOTE_TIMEOUT_MS);
    const secrets = secretsOf(opts);
    // no token, whatever a library put in a reason
    const print = (s: SyncStats) => {
      if (!s.remote.known) s.remote = { known: false, reason: hideSecrets(s.remote.reason, secrets) };
      console.log(JSON.stringify(s, null, 2));
    };
    await withLocal(
      idArg,
      async (local, agent) => {
        const stored = agent.store.getMeta(META.syncRemote);
        const given = opts.remote ?? stored;
        if (given === undefined) return print(localStats(local, undefined));
        let remote: RemoteDb;
        try {
          const choice = chooseRemote(stored, { url: opts.remote, authToken: opts.authToken, timeout: opts.timeout });
          remote = openSync(agent.store, { ...choice, timeoutMs: probeMs }).remote;
        } catch (e) {
          // a remote that cannot even be asked (bad URL, bad token, missing file:) leaves the local part
          if (!(e instanceof SyncError)) throw e;
          const s = localStats(local, given);
          s.remote = { known: false, reason: e.message };
          return print(s);
        }
        try {
          print(await stats(local, remote, probeMs));
        } finally {
          remote.close();
        }
      },
      opts,
      { readOnly: true },
    );
  });
}
