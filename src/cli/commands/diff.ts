import type { Command } from 'commander';
import { Agent } from '../../core/agent.js';
import { computeChanges, patchOf, type Change } from '../../core/changes/index.js';
import { OverlayFs } from '../../core/overlay/index.js';
import { resolveAgent } from '../../sandbox/resolve.js';
import { AGENT_ARG } from '../agent-arg.js';
import { UserError } from '../errors.js';
import { quoteName } from '../quote.js';

interface DiffOptions {
  stat?: boolean;
  patch?: boolean;
  json?: boolean;
}

/** Opens an overlay agent (id, .db path, or run session id) for diff, commit and discard. */
export function openOverlay(id: string, access: { readOnly?: boolean } = {}): { agent: Agent; ov: OverlayFs; database: string } {
  const { target, database } = resolveAgent(id);
  const agent = Agent.open(target, { readOnly: access.readOnly });
  if (!(agent.fs instanceof OverlayFs)) {
    agent.close();
    throw new UserError(`${id} is not an overlay agent (it has no base directory; see \`agentfs init --base\` and \`agentfs run\`)`);
  }
  return { agent, ov: agent.fs, database };
}

export function relPath(path: string): string {
  return path === '/' ? '.' : quoteName(path.slice(1));
}

export function changeLine(c: Change): string {
  return `${c.status} ${c.type.padEnd(7)} ${relPath(c.path)}`;
}

export function statLines(changes: readonly Change[]): string[] {
  const lines: string[] = [];
  for (const [status, label] of [['A', 'added'], ['M', 'modified'], ['D', 'deleted']] as const) {
    const of = changes.filter((c) => c.status === status);
    const byType = new Map<string, number>();
    for (const c of of) byType.set(c.type, (byType.get(c.type) ?? 0) + 1);
    const detail = [...byType].map(([t, n]) => `${n} ${t}${n === 1 ? '' : 's'}`).join(', ');
    lines.push(`${`${label}:`.padEnd(10)}${String(of.length).padStart(6)}${detail ? `  (${detail})` : ''}`);
  }
  lines.push(`${changes.length} change${changes.length === 1 ? '' : 's'}`);
  return lines;
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('List the changes of an overlay agent (or run session) against its base: A/M/D, file type, path')
    .argument('<ID>', AGENT_ARG)
    .argument('[PATH...]', 'only changes at or below these paths (relative to the base)')
    .option('--stat', 'counts of added, modified and deleted entries')
    .option('--patch', 'unified diff of text files (binary files say so)')
    .option('--json', 'machine-readable output')
    .action((id: string, paths: string[], opts: DiffOptions) => {
      const { agent, ov } = openOverlay(id, { readOnly: true });
      try {
        const changes = computeChanges(ov.changes, paths);
        if (opts.json) {
          const out: Record<string, unknown> = { base: ov.baseDir, changes };
          if (opts.patch) out.patches = Object.fromEntries(changes.map((c) => [c.path, patchOf(ov.changes, c)]).filter(([, p]) => p));
          console.log(JSON.stringify(out, null, 2));
          return;
        }
        if (opts.stat) {
          for (const l of statLines(changes)) console.log(l);
          return;
        }
        for (const c of changes) {
          if (!opts.patch) {
            console.log(changeLine(c));
            continue;
          }
          const p = patchOf(ov.changes, c);
          if (p) process.stdout.write(p.endsWith('\n') ? p : `${p}\n`);
          else console.log(changeLine(c));
        }
      } finally {
        agent.close();
      }
    });
}
