import type { Command } from 'commander';
import { existsSync, realpathSync, rmSync, statSync } from 'node:fs';
import { Store, StoreError, databasePath, looksLikePath, validateId } from '../../store/index.js';
import { Agent, META } from '../../core/agent.js';
import { UserError } from '../errors.js';
import { checkRemoteUrl, SyncError, urlToken } from '../../sync/index.js';
import { quoteName } from '../quote.js';
import { parseIntOption } from '../options.js';
import { exitWithSignalsCaught } from '../../platform/signals.js';

interface InitOptions {
  force?: boolean;
  base?: string;
  syncRemoteUrl?: string;
  journal: boolean;
  chunkSize?: string;
  command?: string;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Create a new agent database (.agentfs/<ID>.db, or a path to a .db file)')
    .argument('[ID]', 'agent id or path to a .db file (default: agent-<timestamp>)')
    .option('--force', 'overwrite an existing agent database')
    .option('--base <DIR>', 'make an overlay agent: DIR is the read-only base, the database holds the changes')
    .option('--sync-remote-url <URL>', 'remote Turso/libSQL database to sync with (libsql://, https://, http://, or file:PATH)')
    .option('--no-journal', 'do not keep the file-operation journal')
    .option('--chunk-size <BYTES>', 'file data chunk size, fixed at creation', '4096')
    .option('-c, --command <CMD>', 'after creating, mount the agent and run CMD in it (as `agentfs exec`)')
    .action(async (idArg: string | undefined, opts: InitOptions) => {
      const id = idArg ?? `agent-${Date.now()}`;
      const target = looksLikePath(id) ? { path: id } : { id };
      if (target.id) validateId(target.id);
      // a typo such as `init my/agent` must not make a database under an unexpected name
      if (target.path && !target.path.endsWith('.db')) {
        throw new UserError(`'${id}' is neither an agent id nor a path ending in .db`);
      }
      const file = databasePath(target);
      let base: string | undefined;
      if (opts.base !== undefined) {
        if (!existsSync(opts.base) || !statSync(opts.base).isDirectory()) {
          throw new UserError(`--base ${opts.base}: not a directory`);
        }
        base = realpathSync(opts.base);
      }
      let remoteUrl: string | undefined;
      try {
        // checked before anything is created; a relative file: remote is stored absolute
        remoteUrl = opts.syncRemoteUrl === undefined ? undefined : checkRemoteUrl(opts.syncRemoteUrl);
      } catch (e) {
        throw e instanceof SyncError ? new UserError(`--sync-remote-url: ${e.message}`) : e;
      }
      // The URL is stored in the database, which is copied, pushed and shared: a token in it
      // would travel with the file.
      if (remoteUrl && urlToken(remoteUrl)) {
        throw new UserError('--sync-remote-url: the URL carries an authToken, and the URL is stored in the database; give the URL without it and pass the token to sync with --auth-token or $TURSO_AUTH_TOKEN');
      }
      const chunkSize = parseIntOption('--chunk-size', opts.chunkSize ?? '4096', { min: 512, max: 1048576 });
      if (existsSync(file)) {
        // --force replaces agents, never some other file that happens to sit there; and without
        // it, say what the file is rather than calling any file an agent
        if (statSync(file).size > 0) {
          try {
            Store.open({ path: file }, { allowOldLayout: true, readOnly: true }).close();
          } catch (e) {
            if (e instanceof StoreError && (e.code === 'foreign' || e.code === 'corrupt')) {
              throw new UserError(`${e.message}; not overwriting it`);
            }
            throw e;
          }
        }
        if (!opts.force) throw new UserError(`agent already exists: ${file} (use --force to overwrite)`, 'exists');
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      }
      const store = Store.open(target, { create: true, chunkSize });
      try {
        store.setMeta(META.createdAt, String(Math.floor(Date.now() / 1000)));
        if (base) store.setMeta(META.base, base);
        if (!opts.journal) store.setMeta(META.journal, 'off');
        if (remoteUrl) store.setMeta(META.syncRemote, remoteUrl);
      } finally {
        store.close();
      }
      // an overlay's first open sets up its root from the base: do it now, so commands that only
      // read (and open read-only) find it done
      if (base) Agent.open({ path: file }).close();
      console.log(`Created agent filesystem: ${quoteName(file)}`);
      if (target.id) console.log(`Agent ID: ${target.id}`);
      if (base) console.log(`Base directory: ${quoteName(base)}`);
      if (opts.command !== undefined) {
        const { execInAgent } = await import('./exec.js');
        exitWithSignalsCaught(await execInAgent(file, ['/bin/sh', '-c', opts.command]));
      }
    });
}
