import { agentUrl, type Change } from '../api';
import { bytes } from '../format';
import { href, useFetch } from '../hooks';
import { DiffView } from './diff';

/** Changes with their unchanged parent directories, so the list reads as a tree. */
function withParents(changes: Change[]): (Omit<Change, 'status'> & { status?: Change['status'] })[] {
  const out: (Omit<Change, 'status'> & { status?: Change['status'] })[] = [];
  const shown = new Set(changes.map((c) => c.path));
  const emitted = new Set<string>();
  // by path components, so a directory's entries follow it directly ('/d/x' before '/d.txt')
  const key = (p: string) => p.split('/').join('\u0000');
  const sorted = [...changes].sort((a, b) => (key(a.path) < key(b.path) ? -1 : key(a.path) > key(b.path) ? 1 : 0));
  for (const c of sorted) {
    const parts = c.path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (shown.has(dir) || emitted.has(dir)) continue;
      emitted.add(dir);
      out.push({ path: dir, type: 'dir' });
    }
    out.push(c);
  }
  return out;
}

/** The overlay's A/M/D tree against its base; a file's diff below when one is chosen. */
export function ChangesView({ agent, tick, query }: { agent: string; tick: number; query: URLSearchParams }) {
  const d = useFetch<{ base: string; changes: Change[] }>(agentUrl(agent, '/changes'), [tick]);
  const chosen = query.get('path') ?? undefined;
  if (d.error) return <p class="error">{d.error}</p>;
  if (!d.data) return <p class="muted">loading…</p>;
  const { changes, base } = d.data;
  const counts = { A: 0, M: 0, D: 0 };
  for (const c of changes) counts[c.status]++;
  return (
    <section class="changes">
      <p>
        Against <code>{base}</code>: <span class="chg-A">{counts.A} added</span>, <span class="chg-M">{counts.M} modified</span>,{' '}
        <span class="chg-D">{counts.D} deleted</span>
      </p>
      <div class="split">
        <ul class="tree" id="changes">
          {withParents(changes).map((c) => {
            const depth = c.path.split('/').length - 2;
            const name = c.path.slice(c.path.lastIndexOf('/') + 1) || '/';
            if (!c.status) {
              return (
                <li key={c.path} style={{ paddingLeft: `${8 + depth * 16}px` }} class="muted" data-path={c.path}>
                  {'  '}
                  {name}/
                </li>
              );
            }
            return (
              <li key={c.path} style={{ paddingLeft: `${8 + depth * 16}px` }} class={chosen === c.path ? 'on' : ''} data-path={c.path}>
                <span class={`chg chg-${c.status}`}>{c.status}</span>{' '}
                {c.type === 'file' ? <a href={href(['a', agent, 'changes'], { path: c.path })}>{name}</a> : <span>{name}{c.type === 'dir' ? '/' : ''}</span>}
                <span class="muted"> {c.type !== 'file' && c.type !== 'dir' ? c.type : ''} {c.size !== undefined ? bytes(c.size) : c.oldSize !== undefined ? bytes(c.oldSize) : ''}{c.what ? ` (${c.what.join(', ')})` : ''}</span>
              </li>
            );
          })}
          {!changes.length && <li class="muted">no changes</li>}
        </ul>
        <div class="diff-pane">{chosen ? <DiffView agent={agent} path={chosen} tick={tick} /> : <p class="muted">Choose a file to see its diff.</p>}</div>
      </div>
    </section>
  );
}
