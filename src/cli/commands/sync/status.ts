import { Option, type Command } from 'commander';
import { redact, status, type SyncStatus } from '../../../sync/index.js';
import { describeCounts, formatBytes, printTable, when } from './format.js';
import { refusedOption, remoteOptions, syncIdArgument, withRemote, type RemoteFlags } from './options.js';

export function registerStatus(sync: Command): void {
  const cmd = syncIdArgument(sync.command('status').description('Show the remote and local revisions and what waits to be pushed and pulled'));
  remoteOptions(cmd);
  refusedOption(cmd, '--theirs', '--theirs applies to pull only');
  // accepted and ignored, as before actions were subcommands
  cmd.addOption(new Option('--force').hideHelp());
  cmd.action(async (idArg: string, opts: RemoteFlags) => {
    await withRemote(idArg, opts, async ({ local, remote }) => {
      const s = await status(local, remote);
      if (opts.json) return void console.log(JSON.stringify(s));
      printStatus(s);
    }, { readOnly: true });
  });
}

function printStatus(s: SyncStatus): void {
  const transfer = (t: SyncStatus['lastPush']) =>
    t ? `${when(t.at)}, revision ${t.revision}, ${t.rows} rows, ${formatBytes(t.bytes)} in ${t.requests} requests` : 'never';
  const lines: [string, string][] = [
    ['Remote', redact(s.remoteUrl)],
    ['Remote revision', String(s.remoteRevision)],
    ['Synced revision', s.neverSynced ? 'never synced with this remote' : String(s.baseRevision)],
    ['Pending locally', s.neverSynced ? 'everything (first push sends the whole agent)' : describeCounts(s.localPending)],
    ['Pending remotely', s.neverSynced ? (s.remoteRevision ? 'everything (first pull takes the whole remote)' : 'nothing') : describeCounts(s.remotePending)],
    ['Last push', transfer(s.lastPush)],
    ['Last pull', transfer(s.lastPull)],
  ];
  if (s.interruptedPush) lines.push(['Interrupted push', 'yes (the next push resumes it)']);
  printTable(lines);
}
