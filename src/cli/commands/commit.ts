import type { Command } from 'commander';
import { realpathSync } from 'node:fs';
import { commitChanges, discardChanges } from '../../core/changes/index.js';
import { listMounts } from '../../fuse/mounts.js';
import { sessionInUse } from '../../sandbox/index.js';
import { AGENT_ARG } from '../agent-arg.js';
import { UserError } from '../errors.js';
import { quoteName } from '../quote.js';
import { changeLine, openOverlay, relPath } from './diff.js';

/**
 * A mounted overlay keeps what it showed in memory (nodes, delta inodes); a commit or discard
 * under it takes those delta entries away, and the mount then showed a broken tree.
 */
function refuseWhileMounted(id: string, database: string, verb: string): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const db = real(database);
  const m = listMounts().find((l) => l.pid !== undefined && l.database !== undefined && real(l.database) === db);
  if (m) throw new UserError(`${id} is mounted at ${quoteName(m.mountpoint)}; ${verb} after unmounting it`, 'busy');
}

interface CommitOpts {
  dryRun?: boolean;
  force?: boolean;
}

export function registerCommit(program: Command): void {
  program
    .command('commit')
    .description("Write an overlay agent's changes into its base directory, then clear them from the agent")
    .argument('<ID>', AGENT_ARG)
    .argument('[PATH...]', 'only changes at or below these paths (relative to the base)')
    .option('--dry-run', 'show what would be written, change nothing')
    .option('--force', 'write even where the base changed since the change was made')
    .action((id: string, paths: string[], opts: CommitOpts) => {
      const { agent, ov, database } = openOverlay(id);
      try {
        if (!opts.dryRun && sessionInUse(database)) {
          throw new UserError(`session ${id} is running; commit after its commands have finished`, 'busy');
        }
        if (!opts.dryRun) refuseWhileMounted(id, database, 'commit');
        const result = commitChanges(ov.changes, { paths, force: opts.force, dryRun: opts.dryRun });
        for (const c of result.conflicts) console.error(`conflict: ${relPath(c.path)}: ${c.reason}`);
        if (result.conflicts.length && !opts.force) {
          // a dry run says what the commit would: nothing written, exit 1
          const n = `${result.conflicts.length} conflict${result.conflicts.length === 1 ? '' : 's'} with the base`;
          throw new UserError(`${n}; ${opts.dryRun ? 'a commit would write nothing' : 'nothing committed'} (use --force to overwrite the base)`, 'conflict');
        }
        for (const c of result.changes) console.log(changeLine(c));
        for (const c of result.skipped) console.error(`skipped: ${relPath(c.path)}: ${c.type} files cannot be committed`);
        const n = result.changes.length - result.skipped.length;
        if (opts.dryRun) console.log(`${n} change${n === 1 ? '' : 's'} would be written to ${quoteName(ov.baseDir)}`);
        else console.log(`Committed ${n} change${n === 1 ? '' : 's'} to ${quoteName(ov.baseDir)}`);
      } finally {
        agent.close();
      }
    });

  program
    .command('discard')
    .description("Drop an overlay agent's changes (all, or at and below the given paths): the base shows again")
    .argument('<ID>', AGENT_ARG)
    .argument('[PATH...]', 'only changes at or below these paths (relative to the base)')
    .action((id: string, paths: string[]) => {
      const { agent, ov, database } = openOverlay(id);
      try {
        if (sessionInUse(database)) throw new UserError(`session ${id} is running; discard after its commands have finished`, 'busy');
        refuseWhileMounted(id, database, 'discard');
        const dropped = discardChanges(ov.changes, paths);
        for (const c of dropped) console.log(changeLine(c));
        console.log(`Discarded ${dropped.length} change${dropped.length === 1 ? '' : 's'}`);
      } finally {
        agent.close();
      }
    });
}
