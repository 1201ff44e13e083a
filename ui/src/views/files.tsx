import { useState } from 'preact/hooks';
import { agentUrl, type DirEntry } from '../api';
import { bytes } from '../format';
import { href, useFetch } from '../hooks';

interface Listing {
  path: string;
  entries: DirEntry[];
  truncated: boolean;
}

interface View {
  path: string;
  type: string;
  size: number;
  text?: string;
  truncated?: boolean;
  binary?: boolean;
  target?: string;
}

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** A directory, expandable in place (listed only when opened). */
function Dir({ agent, path, tick, chosen, depth }: { agent: string; path: string; tick: number; chosen?: string; depth: number }) {
  const d = useFetch<Listing>(agentUrl(agent, '/fs/list', { path }), [tick]);
  const [open, setOpen] = useState<Set<string>>(() => new Set(chosen ? ancestors(chosen) : []));
  if (d.error) return <li class="error">{d.error}</li>;
  if (!d.data) return <li class="muted">…</li>;
  return (
    <>
      {d.data.entries.map((e) => {
        const p = join(path, e.name);
        const pad = { paddingLeft: `${8 + depth * 16}px` };
        if (e.type === 'dir') {
          const isOpen = open.has(p);
          const toggle = () => {
            const n = new Set(open);
            if (isOpen) n.delete(p);
            else n.add(p);
            setOpen(n);
          };
          return (
            <>
              <li key={p} style={pad} class="dir" data-path={p}>
                <button type="button" class="link" onClick={toggle}>
                  {isOpen ? '▾' : '▸'} {e.name}/
                </button>
              </li>
              {isOpen && <Dir agent={agent} path={p} tick={tick} chosen={chosen} depth={depth + 1} />}
            </>
          );
        }
        return (
          <li key={p} style={pad} class={chosen === p ? 'on' : ''} data-path={p}>
            <a href={href(['a', agent, 'files'], { path: p })}>{e.name}</a>
            {e.type === 'symlink' && ' →'} <span class="muted">{e.type === 'file' ? bytes(e.size) : e.type}</span>
          </li>
        );
      })}
      {d.data.truncated && <li class="muted">(only the first {d.data.entries.length} entries)</li>}
    </>
  );
}

function ancestors(p: string): string[] {
  const parts = p.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

export function FilesView({ agent, tick, query }: { agent: string; tick: number; query: URLSearchParams }) {
  const chosen = query.get('path') ?? undefined;
  const v = useFetch<View>(chosen ? agentUrl(agent, '/fs/view', { path: chosen }) : undefined, [tick]);
  return (
    <section class="files split">
      <ul class="tree" id="files">
        <Dir agent={agent} path="/" tick={tick} chosen={chosen} depth={0} />
      </ul>
      <div class="file-pane">
        {!chosen && <p class="muted">Choose a file.</p>}
        {chosen && v.error && <p class="error">{v.error}</p>}
        {chosen && v.data && v.data.path === chosen && (
          <>
            <div class="diff-head">
              <code>{chosen}</code> <span class="muted">{bytes(v.data.size)}</span>{' '}
              {v.data.type === 'file' && (
                <a class="button" href={agentUrl(agent, '/fs/download', { path: chosen })} download id="download">
                  download
                </a>
              )}
            </div>
            {v.data.target !== undefined && <p>symlink to <code>{v.data.target}</code></p>}
            {v.data.binary && <p class="muted">binary, {bytes(v.data.size)}</p>}
            {v.data.text !== undefined && <pre class="file-text" id="file-text">{v.data.text}</pre>}
            {v.data.truncated && <p class="muted">Only the beginning is shown; download the file for all of it.</p>}
          </>
        )}
      </div>
    </section>
  );
}
