/**
 * What every `agentfs sync` action shares: the remote options, opening the agent and its remote,
 * and turning sync failures into one-line errors. Options are declared here once, so an option
 * every action takes is added in one place.
 */
import { Option, type Command } from 'commander';
import { Agent, META } from '../../../core/agent.js';
import { LocalSyncState } from '../../../core/sync-state/index.js';
import { AGENT_ARG, openAgentArg } from '../../agent-arg.js';
import { chooseRemote, DEFAULT_TIMEOUT_S, hideSecrets, openSync, SyncError, urlToken, withoutToken, type RemoteDb } from '../../../sync/index.js';
import { UserError } from '../../errors.js';

export interface RemoteFlags {
  remote?: string;
  authToken?: string;
  /** seconds, as given */
  timeout?: string;
  json?: boolean;
}

/** --remote, --auth-token, --timeout and --json, as every action that talks to the remote takes them. */
export function remoteOptions(cmd: Command): Command {
  return cmd
    .option('--remote <URL>', 'remote database URL (libsql://, https://, http://, or file:PATH for a local database file); default: the one given to init --sync-remote-url')
    .option('--auth-token <TOKEN>', 'auth token for the remote (default: $TURSO_AUTH_TOKEN, then $TURSO_DB_AUTH_TOKEN)')
    .option('--timeout <SECONDS>', `give up on a request the remote has not answered after SECONDS (default: $AGENTFS_SYNC_TIMEOUT, else ${DEFAULT_TIMEOUT_S})`)
    .option('--json', 'print the result as JSON');
}

/** An option an action does not take, kept so using it says why in one line. */
export function refusedOption(cmd: Command, flags: string, message: string): Command {
  return cmd.addOption(new Option(flags).hideHelp().argParser(() => {
    throw new UserError(message);
  }));
}

export function syncIdArgument(cmd: Command): Command {
  return cmd.argument('<ID>', AGENT_ARG);
}

/** Every token these flags and the environment may hold (to keep out of what is printed). */
export function secretsOf(flags: RemoteFlags): (string | undefined)[] {
  return [flags.authToken, flags.remote === undefined ? undefined : urlToken(flags.remote), process.env.TURSO_AUTH_TOKEN, process.env.TURSO_DB_AUTH_TOKEN];
}

/**
 * Runs fn over the agent's local sync state; SyncError becomes a one-line UserError. No token from
 * the flags or the environment gets into an error's message.
 */
export async function withLocal<T>(
  idArg: string,
  fn: (local: LocalSyncState, agent: Agent) => Promise<T> | T,
  flags: RemoteFlags = {},
  access: { readOnly?: boolean } = {},
): Promise<T> {
  // status and stats only look: opened read-only, they neither wait for nor fail on a writer
  const agent = openAgentArg(idArg, access);
  const secrets = secretsOf(flags);
  try {
    return await fn(new LocalSyncState(agent.store), agent);
  } catch (e) {
    if (e instanceof SyncError) throw new UserError(hideSecrets(e.message, secrets));
    // whatever a library put in its message (or stack), the token stays out of it
    if (e instanceof Error) {
      const text = `${e.message}\n${e.stack ?? ''}`;
      if (hideSecrets(text, secrets) !== text) throw new UserError(hideSecrets(e.message, secrets));
    }
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

/**
 * Runs fn with the agent and its remote (chosen from the flags, the stored URL and the
 * environment). `create`: a `file:` remote may be created (push); else it must exist.
 */
export async function withRemote<T>(
  idArg: string,
  flags: RemoteFlags,
  fn: (ctx: SyncContext) => Promise<T>,
  options: { create?: boolean; readOnly?: boolean; before?: (agent: Agent) => void } = {},
): Promise<T> {
  return withLocal(
    idArg,
    async (_local, agent) => {
      options.before?.(agent);
      const { url, authToken, timeoutMs } = chooseRemote(agent.store.getMeta(META.syncRemote), { url: flags.remote, authToken: flags.authToken, timeout: flags.timeout });
      // through openSync: the one place a remote is opened (and checked)
      const { local, remote } = openSync(agent.store, { url, authToken, timeoutMs }, options);
      try {
        return await fn({ agent, local, remote, url });
      } finally {
        remote.close();
      }
    },
    flags,
    { readOnly: options.readOnly },
  );
}

/** A URL given on the command line is remembered when none was stored (never its token). */
export function rememberRemote(agent: Agent, url: string): void {
  if (!agent.store.getMeta(META.syncRemote)) agent.store.setMeta(META.syncRemote, withoutToken(url));
}
