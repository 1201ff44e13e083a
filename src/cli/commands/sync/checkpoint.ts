import type { Command } from 'commander';
import { checkpoint } from '../../../sync/index.js';
import { UserError } from '../../errors.js';
import { formatBytes } from './format.js';
import { syncIdArgument, withLocal } from './options.js';

export const CHECKPOINT_BUSY_TIMEOUT_MS = 10_000;

export function registerCheckpoint(sync: Command): void {
  const cmd = syncIdArgument(
    sync.command('checkpoint').description('Compact the local side of sync: checkpoint and truncate the WAL, give back free pages, fold old sync statistics'),
  );
  cmd
    .option('--busy-timeout <MS>', 'how long to wait for a live mount or other writer before skipping a step', String(CHECKPOINT_BUSY_TIMEOUT_MS))
    .option('--json', 'print the result as JSON');
  cmd.action(async (idArg: string, opts: { busyTimeout: string; json?: boolean }) => {
    const ms = Number(opts.busyTimeout);
    if (!/^\d+$/.test(opts.busyTimeout) || !Number.isSafeInteger(ms)) throw new UserError(`invalid --busy-timeout '${opts.busyTimeout}': expected milliseconds`);
    const r = await withLocal(idArg, (local) => checkpoint(local, ms));
    if (opts.json) console.log(JSON.stringify(r));
    else {
      const size = (s: { databaseBytes: number; walBytes: number }) => `${formatBytes(s.databaseBytes)} + WAL ${formatBytes(s.walBytes)}`;
      console.log(`Checkpointed ${r.database}: ${size(r.before)} -> ${size(r.after)}`);
      console.log(`Freed ${r.pagesFreed} pages; folded ${r.transfersFolded} sync log rows the remote already has`);
    }
    if (r.notes.length) throw new UserError(`${r.notes.join('; ')} (the rest was done; run it again when the database is idle)`);
  });
}
