/**
 * What every `agentfs sync` action shares: the remote options, opening the agent and its remote,
 * and turning sync failures into one-line errors. Options are declared here once, so an option
 * every action takes is added in one place.
 */
import { Option, type Command } from 'commander';
import { Agent, META } from '../../../core/agent.js';
import { LocalSyncState } from '../../../core/sync-state/index.js';
import { targetFromArg } from '../../../store/index.js';
import { chooseRemote, openSync, SyncError, type RemoteDb } from '../../../sync/index.js';
import { UserError } from '../../errors.js';

export interface RemoteFlags {
  remote?: string;
  authToken?: string;
  json?: boolean;
}

/** --remote, --auth-token and --json, as every action that talks to the remote takes them. */
export function remoteOptions(cmd: Command): Command {
  return cmd
    .option('--remote <URL>', 'remote database URL (libsql://, https://, http://); default: the one given to init --sync-remote-url')
    .option('--auth-token <TOKEN>', 'auth token for the remote (default: $TURSO_AUTH_TOKEN, then $TURSO_DB_AUTH_TOKEN)')
    .option('--json', 'print the result as JSON');
}

/** An option an action does not take, kept so using it says why in one line. */
export function refusedOption(cmd: Command, flags: string, message: string): Command {
  return cmd.addOption(new Option(flags).hideHelp().argParser(() => {
    throw new UserError(message);
  }));
}

export function syncIdArgument(cmd: Command): Command {
  return cmd.argument('<ID>', 'agent id or path to a .db file');
}

/** Runs fn over the agent's local sync state; SyncError becomes a one-line UserError. */
export async function withLocal<T>(idArg: string, fn: (local: LocalSyncState, agent: Agent) => Promise<T> | T): Promise<T> {
  const agent = Agent.open(targetFromArg(idArg));
  try {
    return await fn(new LocalSyncState(agent.store), agent);
  } catch (e) {
    if (e instanceof SyncError) throw new UserError(e.message);
    throw e;
  } finally {
    agent.close();
  }
}

export interface SyncContext {
  agent: Agent;
  local: LocalSyncState;
  remote: RemoteDb;
  url: string;
}

/** Runs fn with the agent and its remote (chosen from the flags, the stored URL and the environment). */
export async function withRemote<T>(idArg: string, flags: RemoteFlags, fn: (ctx: SyncContext) => Promise<T>, extra: { timeoutMs?: number } = {}): Promise<T> {
  return withLocal(idArg, async (_local, agent) => {
    const { url, authToken } = chooseRemote(agent.store.getMeta(META.syncRemote), { url: flags.remote, authToken: flags.authToken });
    // through openSync: the one place a remote is opened (and checked)
    const { local, remote } = openSync(agent.store, { url, authToken, ...extra });
    try {
      return await fn({ agent, local, remote, url });
    } finally {
      remote.close();
    }
  });
}

/** A URL given on the command line is remembered when none was stored. */
export function rememberRemote(agent: Agent, url: string): void {
  if (!agent.store.getMeta(META.syncRemote)) agent.store.setMeta(META.syncRemote, url);
}
