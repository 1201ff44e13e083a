import type { Command } from 'commander';
import { migrateDatabase } from '../../store/migrate.js';
import { resolveAgent } from '../../sandbox/resolve.js';
import { AGENT_ARG } from '../agent-arg.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('Upgrade an agent database of an older AgentFS layout to SPEC v0.4, in place')
    .argument('<ID>', AGENT_ARG)
    .option('--dry-run', 'print the steps without changing anything')
    .option('--json', 'print the result as JSON')
    .action((id: string, opts: { dryRun?: boolean; json?: boolean }) => {
      const r = migrateDatabase(resolveAgent(id).target, { dryRun: opts.dryRun });
      if (opts.json) {
        console.log(JSON.stringify({ file: r.file, from: r.from ?? null, to: r.to, applied: r.applied, dryRun: !!opts.dryRun, steps: r.steps.map((s) => s.description) }, null, 2));
        return;
      }
      if (r.steps.length === 0) {
        console.log(`${r.file} is up to date (schema ${r.to}); nothing to do`);
        return;
      }
      const from = r.from ?? 'unversioned';
      console.log(`${opts.dryRun ? 'Would migrate' : 'Migrating'} ${r.file} (schema ${from} -> ${r.to}):`);
      for (const s of r.steps) console.log(`  - ${s.description}`);
      console.log(opts.dryRun ? 'Dry run: nothing changed.' : `Done: ${r.steps.length} step${r.steps.length === 1 ? '' : 's'} applied.`);
    });
}
