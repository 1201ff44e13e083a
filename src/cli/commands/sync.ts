import type { Command } from 'commander';
import { Agent, META } from '../../core/agent.js';
import { targetFromArg } from '../../store/index.js';
import { chooseRemote, openSync, pull, push, status, SyncError, redact, withoutToken, hideSecrets, DEFAULT_TIMEOUT_S, type SyncStatus } from '../../sync/index.js';
import { UserError } from '../errors.js';

interface SyncOptions {
  remote?: string;
  authToken?: string;
  timeout?: string;
  force?: boolean;
  theirs?: boolean;
  json?: boolean;
}

const ACTIONS = ['push', 'pull', 'status'] as const;
type Action = (typeof ACTIONS)[number];

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('Push/pull the agent to/from a remote Turso (libSQL) database, or show sync status')
    .argument('<ID>', 'agent id or path to a .db file')
    .argument('<ACTION>', 'push | pull | status')
    .option('--remote <URL>', 'remote database URL (libsql://, https://, http://, or file:PATH for a local database file); default: the one given to init --sync-remote-url')
    .option('--auth-token <TOKEN>', 'auth token for the remote (default: $TURSO_AUTH_TOKEN, then $TURSO_DB_AUTH_TOKEN)')
    .option('--timeout <SECONDS>', `give up on a request the remote has not answered after SECONDS (default: $AGENTFS_SYNC_TIMEOUT, else ${DEFAULT_TIMEOUT_S})`)
    .option('--force', 'where both sides changed the same thing, ours wins')
    .option('--theirs', 'pull only: where both sides changed the same thing, the remote wins')
    .option('--json', 'print the result as JSON')
    .action(async (a: string, b: string, opts: SyncOptions) => {
      // accept both `sync ID push` and `sync push ID`
      let [idArg, action] = [a, b];
      if (ACTIONS.includes(a as Action) && !ACTIONS.includes(b as Action)) [idArg, action] = [b, a];
      if (!ACTIONS.includes(action as Action)) throw new UserError(`unknown sync action '${action}': use push, pull or status`);
      if (opts.theirs && action !== 'pull') throw new UserError('--theirs applies to pull only');
      if (opts.theirs && opts.force) throw new UserError('--force and --theirs contradict each other');
      const agent = Agent.open(targetFromArg(idArg));
      const secrets = [opts.authToken, process.env.TURSO_AUTH_TOKEN, process.env.TURSO_DB_AUTH_TOKEN];
      try {
        const { url, authToken, timeoutMs } = chooseRemote(agent.store.getMeta(META.syncRemote), { url: opts.remote, authToken: opts.authToken, timeout: opts.timeout });
        const { local, remote } = openSync(agent.store, { url, authToken, timeoutMs }, { create: action === 'push' });
        try {
          if (action === 'push') {
            const r = await push(local, remote, { force: opts.force });
            // remember a remote given on the command line when none was stored (never its token)
            if (!agent.store.getMeta(META.syncRemote)) agent.store.setMeta(META.syncRemote, withoutToken(url));
            if (opts.json) return void console.log(JSON.stringify(r));
            if (r.upToDate) console.log(`Everything up to date (remote revision ${r.revision})`);
            else
              console.log(
                `Pushed ${r.rows} rows${r.deletes ? ` and ${r.deletes} deletions` : ''} to ${redact(url)}: revision ${r.revision}${r.full ? ' (full)' : ''}${r.resumed ? ' (resumed)' : ''}, ${formatBytes(r.bytes)} in ${r.requests} requests, ${r.seconds.toFixed(1)} s`,
              );
            if (r.renumberedToolCalls) console.log(`Renumbered ${r.renumberedToolCalls} local tool calls after the remote's`);
            if (r.remoteAhead) console.log('The remote has changes from elsewhere: run `agentfs sync ' + idArg + ' pull` to get them');
          } else if (action === 'pull') {
            const r = await pull(local, remote, { theirs: opts.theirs, force: opts.force });
            if (!agent.store.getMeta(META.syncRemote)) agent.store.setMeta(META.syncRemote, withoutToken(url));
            if (opts.json) return void console.log(JSON.stringify(r));
            if (r.upToDate) console.log(`Already up to date (remote revision ${r.revision})`);
            else
              console.log(
                `Pulled ${r.rows} rows${r.deletes ? ` and ${r.deletes} deletions` : ''} from ${redact(url)}: revision ${r.revision}${r.full ? ' (full)' : ''}, ${formatBytes(r.bytes)} in ${r.requests} requests, ${r.seconds.toFixed(1)} s`,
              );
            if (r.conflictsResolved) console.log(`Resolved ${r.conflictsResolved} conflicts (${opts.theirs ? 'theirs' : 'ours'} won)`);
            if (r.renumberedToolCalls) console.log(`Renumbered ${r.renumberedToolCalls} local tool calls after the remote's`);
          } else {
            const s = await status(local, remote);
            if (opts.json) return void console.log(JSON.stringify(s));
            printStatus(s);
          }
        } finally {
          remote.close();
        }
      } catch (e) {
        if (e instanceof SyncError) throw new UserError(hideSecrets(e.message, secrets));
        // whatever a library put in its message (or stack), the token stays out of it
        if (e instanceof Error && hideSecrets(`${e.message}\n${e.stack ?? ''}`, secrets) !== `${e.message}\n${e.stack ?? ''}`) {
          throw new UserError(hideSecrets(e.message, secrets));
        }
        throw e;
      } finally {
        agent.close();
      }
    });
}

const WORDS: Record<string, string> = {
  fs_inode: 'inodes',
  fs_dentry: 'directory entries',
  fs_data: 'data chunks',
  fs_symlink: 'symlinks',
  fs_whiteout: 'whiteouts',
  fs_origin: 'origins',
  kv_store: 'kv entries',
  tool_calls: 'tool calls',
  fs_config: 'config entries',
};

function describeCounts(c: Record<string, number>): string {
  const parts = Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${n} ${WORDS[t] ?? t}`);
  return parts.length ? parts.join(', ') : 'nothing';
}

function when(t: number | undefined): string {
  return t ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : 'never';
}

function printStatus(s: SyncStatus): void {
  const lines: [string, string][] = [
    ['Remote', redact(s.remoteUrl)],
    ['Remote revision', String(s.remoteRevision)],
    ['Synced revision', s.neverSynced ? 'never synced with this remote' : String(s.baseRevision)],
    ['Pending locally', s.neverSynced ? 'everything (first push sends the whole agent)' : describeCounts(s.localPending)],
    ['Pending remotely', s.neverSynced ? (s.remoteRevision ? 'everything (first pull takes the whole remote)' : 'nothing') : describeCounts(s.remotePending)],
    [
      'Last push',
      s.lastPush ? `${when(s.lastPush.at)}, revision ${s.lastPush.revision}, ${s.lastPush.rows} rows, ${formatBytes(s.lastPush.bytes)} in ${s.lastPush.requests} requests` : 'never',
    ],
    [
      'Last pull',
      s.lastPull ? `${when(s.lastPull.at)}, revision ${s.lastPull.revision}, ${s.lastPull.rows} rows, ${formatBytes(s.lastPull.bytes)} in ${s.lastPull.requests} requests` : 'never',
    ],
  ];
  if (s.interruptedPush) lines.push(['Interrupted push', 'yes (the next push resumes it)']);
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${(k + ':').padEnd(w + 1)} ${v}`);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}
