import type { Command } from 'commander';
import { listRuns } from '../../sandbox/index.js';
import { quoteName } from '../quote.js';

export function registerPs(program: Command): void {
  program
    .command('ps')
    .description('List run sessions and their live commands')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const rows = listRuns();
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (!rows.length) {
        console.log('no sessions');
        return;
      }
      const table = [['SESSION', 'PID', 'COMMAND', 'BASE', 'STARTED', 'CHANGES']];
      for (const r of rows) {
        table.push([
          r.session,
          r.pid === undefined ? '-' : String(r.pid),
          r.command ? r.command.map(quoteName).join(' ') : '-',
          quoteName(r.base),
          r.started.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
          r.changes === undefined ? '?' : String(r.changes),
        ]);
      }
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
    });
}
