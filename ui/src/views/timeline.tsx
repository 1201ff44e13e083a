import { useEffect, useRef, useState } from 'preact/hooks';
import { agentUrl, get, type CallRow, type JournalEntry } from '../api';
import { describe, duration, time } from '../format';
import { href, useFetch } from '../hooks';

const PAGE = 200;
const STATUSES = ['success', 'error', 'pending'] as const;

interface Page {
  total: number;
  offset: number;
  calls: CallRow[];
  /** the file changes in the page's time span */
  journal?: Window;
}

interface Window {
  entries: JournalEntry[];
  truncated: boolean;
}

/** The timeline's state lives in the URL hash query, so views can be linked and survive reloads. */
function go(agent: string, query: URLSearchParams, changes: Record<string, string | undefined>): void {
  const q: Record<string, string | undefined> = Object.fromEntries(query);
  Object.assign(q, changes);
  location.hash = href(['a', agent, 'timeline'], q);
}

function Filters({ agent, query, tools }: { agent: string; query: URLSearchParams; tools: { name: string; calls: number }[] }) {
  const status = new Set((query.get('status') ?? '').split(',').filter(Boolean));
  const apply = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const st = STATUSES.filter((s) => f.get(`st-${s}`));
    go(agent, query, {
      name: (f.get('name') as string) || undefined,
      status: st.length && st.length < STATUSES.length ? st.join(',') : undefined,
      path: ((f.get('path') as string) || '').trim() || undefined,
      q: ((f.get('q') as string) || '').trim() || undefined,
      offset: undefined,
    });
  };
  // the tool menu and the status boxes apply at once; text fields on Enter or Apply
  const onChange = (e: Event) => {
    const t = e.target as HTMLInputElement;
    if (t.tagName === 'SELECT' || t.type === 'checkbox') apply(e);
  };
  return (
    <form class="filters" id="filters" onSubmit={apply} onChange={onChange}>
      <label>
        tool{' '}
        <select name="name" value={query.get('name') ?? ''}>
          <option value="">all</option>
          {tools.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name} ({t.calls})
            </option>
          ))}
        </select>
      </label>
      <span class="statuses">
        {STATUSES.map((s) => (
          <label key={s} class={`st st-${s}`}>
            <input type="checkbox" name={`st-${s}`} checked={status.size === 0 || status.has(s)} /> {s}
          </label>
        ))}
      </span>
      <label>
        path <input name="path" placeholder="glob: *.ts, src/**" defaultValue={query.get('path') ?? ''} size={18} />
      </label>
      <label>
        search <input name="q" type="search" placeholder="text in args and results" defaultValue={query.get('q') ?? ''} size={22} />
      </label>
      <button type="submit">Apply</button>
    </form>
  );
}

function Pager({ agent, query, page }: { agent: string; query: URLSearchParams; page: Page }) {
  const to = (offset: number | undefined) => go(agent, query, { offset: offset === undefined ? undefined : String(Math.max(0, offset)) });
  const last = Math.max(0, page.total - PAGE);
  const from = page.total ? page.offset + 1 : 0;
  const end = page.offset + page.calls.length;
  return (
    <div class="pager">
      <button type="button" disabled={page.offset === 0} onClick={() => to(0)}>« first</button>
      <button type="button" disabled={page.offset === 0} onClick={() => to(page.offset - PAGE)}>‹ earlier</button>
      <span id="range">
        calls {from}–{end} of {page.total}
      </span>
      <button type="button" disabled={end >= page.total} onClick={() => to(page.offset + PAGE)}>later ›</button>
      <button type="button" disabled={end >= page.total} onClick={() => to(undefined)}>latest »</button>
      {!query.has('offset') && <span class="muted"> following new calls</span>}
      {(query.has('since') || query.has('until')) && (
        <button type="button" class="reset" onClick={() => go(agent, query, { since: undefined, until: undefined, offset: undefined })}>
          reset zoom
        </button>
      )}
    </div>
  );
}

/**
 * The page's calls in tree order: each call directly followed by the calls nested in it (those on
 * the page), top-level ones and orphans (parent on another page) in start order.
 */
function treeOrder(calls: CallRow[]): CallRow[] {
  const ids = new Set(calls.map((c) => c.id));
  const kids = new Map<number, CallRow[]>();
  const roots: CallRow[] = [];
  for (const c of calls) {
    if (c.parent_id !== undefined && ids.has(c.parent_id) && c.parent_id !== c.id) {
      const l = kids.get(c.parent_id) ?? [];
      l.push(c);
      kids.set(c.parent_id, l);
    } else roots.push(c);
  }
  const out: CallRow[] = [];
  const seen = new Set<number>();
  const visit = (c: CallRow) => {
    if (seen.has(c.id)) return;
    seen.add(c.id);
    out.push(c);
    for (const k of kids.get(c.id) ?? []) visit(k);
  };
  for (const r of roots) visit(r);
  for (const c of calls) visit(c); // a parent cycle in foreign data: still every call once
  return out;
}

/** Waterfall: a bar per call on a shared time axis, nested calls indented under their parent. */
function Waterfall({ agent, query, calls, files }: { agent: string; query: URLSearchParams; calls: CallRow[]; files: JournalEntry[] }) {
  const track = useRef<HTMLDivElement>(null);
  const [sel, setSel] = useState<[number, number] | undefined>();
  const nowNs = Date.now() * 1e6;
  const since = query.get('since');
  const until = query.get('until');
  let t0 = since ? Number(since) : Math.min(...calls.map((c) => c.start_ns));
  let t1 = until ? Number(until) : Math.max(...calls.map((c) => c.end_ns ?? Math.max(c.start_ns, nowNs)));
  if (!Number.isFinite(t0) || !Number.isFinite(t1)) return null;
  if (t1 - t0 < 1e6) t1 = t0 + 1e6; // at least 1 ms wide
  const span = t1 - t0;
  const pct = (ns: number) => Math.min(100, Math.max(0, ((ns - t0) / span) * 100));
  const byCall = new Map<number, JournalEntry[]>();
  const orphans: JournalEntry[] = [];
  const onPage = new Set(calls.map((c) => c.id));
  for (const f of files) {
    if (f.tool_call_id !== undefined && onPage.has(f.tool_call_id)) {
      const l = byCall.get(f.tool_call_id) ?? [];
      l.push(f);
      byCall.set(f.tool_call_id, l);
    } else if (f.time_ns >= t0 && f.time_ns <= t1) orphans.push(f);
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: f * 100, label: `+${duration((f * span) / 1e6)}` }));

  // drag across the tracks to zoom into that time range
  const axis = () => track.current!.querySelector('.wf-axis .wf-track')!.getBoundingClientRect();
  const fracAt = (e: MouseEvent) => {
    const r = axis();
    return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
  };
  const down = (e: MouseEvent) => {
    if (e.button !== 0 || (e.target as HTMLElement).closest('a')) return;
    const a = fracAt(e);
    setSel([a, a]);
    const move = (m: MouseEvent) => setSel([a, fracAt(m)]);
    const up = (u: MouseEvent) => {
      removeEventListener('mousemove', move);
      removeEventListener('mouseup', up);
      setSel(undefined);
      const b = fracAt(u);
      if (Math.abs(b - a) < 0.01) return;
      const lo = Math.round(t0 + Math.min(a, b) * span);
      const hi = Math.round(t0 + Math.max(a, b) * span);
      go(agent, query, { since: String(lo), until: String(hi), offset: undefined });
    };
    addEventListener('mousemove', move);
    addEventListener('mouseup', up);
  };

  const tickOf = (f: JournalEntry) => (
    <span key={f.id} class={`tick op-${f.op}`} style={{ left: `${pct(f.time_ns)}%` }} title={`${f.op} ${describe(f)} at ${time(f.time_ns / 1e6)}`} />
  );
  return (
    <div class="waterfall" id="waterfall" ref={track} onMouseDown={down}>
      <div class="wf-axis">
        <div class="wf-label muted">{time(t0 / 1e6)}</div>
        <div class="wf-track">
          {ticks.map((t) => (
            <span key={t.at} class="axis-tick" style={{ left: `${t.at}%` }}>
              {t.label}
            </span>
          ))}
        </div>
      </div>
      {orphans.length > 0 && (
        <div class="wf-row orphans">
          <div class="wf-label muted">file changes outside these calls ({orphans.length})</div>
          <div class="wf-track">{orphans.slice(0, 500).map(tickOf)}</div>
        </div>
      )}
      {treeOrder(calls).map((c) => {
        const end = c.end_ns ?? Math.max(c.start_ns, nowNs);
        const left = pct(c.start_ns);
        const width = Math.max(0.15, pct(end) - left);
        const tip = `#${c.id} ${c.name} · ${c.status} · ${duration(c.duration_ms)}\n${c.args_preview ?? ''}${c.error_preview ? `\nerror: ${c.error_preview}` : ''}`;
        return (
          <div class={`wf-row depth-${Math.min(c.depth, 6)}`} key={c.id} data-call={c.id} data-status={c.status}>
            <div class="wf-label" style={{ paddingLeft: `${6 + c.depth * 14}px` }} title={tip}>
              {c.depth > 0 && <span class="nest">└</span>}
              <a href={href(['a', agent, 'call', c.id])}>{c.name}</a>
              <span class="dur">{c.status === 'pending' ? `running ${duration((nowNs - c.start_ns) / 1e6)}` : duration(c.duration_ms)}</span>
            </div>
            <div class="wf-track">
              <a class={`bar status-${c.status}`} href={href(['a', agent, 'call', c.id])} style={{ left: `${left}%`, width: `${width}%` }} title={tip} data-call={c.id} />
              {(byCall.get(c.id) ?? []).map(tickOf)}
            </div>
          </div>
        );
      })}
      {sel && track.current && (
        <div
          class="wf-sel"
          style={{
            left: `${axis().left - track.current.getBoundingClientRect().left + Math.min(sel[0], sel[1]) * axis().width}px`,
            width: `${Math.abs(sel[1] - sel[0]) * axis().width}px`,
          }}
        />
      )}
    </div>
  );
}

/** Calls and file changes of the page, interleaved by time, each change linked to its call. */
function Events({ agent, calls, files, truncated, range }: { agent: string; calls: CallRow[]; files: JournalEntry[]; truncated: boolean; range: Record<string, string | undefined> }) {
  type Ev = { t: number; call?: CallRow; file?: JournalEntry };
  // further pages of the journal rows of this range, fetched on request
  const [more, setMore] = useState<{ key: string; entries: JournalEntry[]; truncated: boolean }>({ key: '', entries: [], truncated });
  const key = JSON.stringify(range);
  const extra = more.key === key ? more : { key, entries: [], truncated };
  const loadMore = () => {
    const all = [...files, ...extra.entries];
    const after = all.length ? all[all.length - 1]!.id : undefined;
    void get<Window>(agentUrl(agent, '/journal', { ...range, after, limit: 500 })).then((w) =>
      setMore({ key, entries: [...extra.entries, ...w.entries], truncated: w.truncated }),
    );
  };
  const evs: Ev[] = [...calls.map((c) => ({ t: c.start_ns, call: c })), ...[...files, ...extra.entries].map((f) => ({ t: f.time_ns, file: f }))];
  evs.sort((a, b) => a.t - b.t || (a.call ? 0 : 1) - (b.call ? 0 : 1));
  const [all, setAll] = useState(false);
  const shown = all ? evs : evs.slice(0, 100);
  return (
    <div class="events">
      <h2>Calls and file changes</h2>

      <table class="list" id="events">
        <thead>
          <tr>
            <th>time</th>
            <th>event</th>
            <th>what</th>
            <th>call</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) =>
            e.call ? (
              <tr key={`c${e.call.id}`} class="ev-call">
                <td>{time(e.t / 1e6)}</td>
                <td>
                  <span class={`badge status-${e.call.status}`}>{e.call.status}</span>
                </td>
                <td>
                  <a href={href(['a', agent, 'call', e.call.id])}>{e.call.name}</a> <span class="muted">{e.call.args_preview}</span>
                </td>
                <td>#{e.call.id}</td>
              </tr>
            ) : (
              <tr key={`f${e.file!.id}`} class="ev-file">
                <td>{time(e.t / 1e6)}</td>
                <td>
                  <span class="badge file">fs:{e.file!.op}</span>
                </td>
                <td class="path">{describe(e.file!)}</td>
                <td>{e.file!.tool_call_id !== undefined ? <a href={href(['a', agent, 'call', e.file!.tool_call_id])}>#{e.file!.tool_call_id}</a> : '–'}</td>
              </tr>
            ),
          )}
        </tbody>
      </table>
      {shown.length < evs.length && (
        <button type="button" onClick={() => setAll(true)}>
          show all {evs.length} events
        </button>
      )}
      {extra.truncated && (shown.length === evs.length) && (
        <button type="button" id="more-files" onClick={loadMore}>
          next file changes of this range ›
        </button>
      )}
    </div>
  );
}

export function TimelineView({ agent, query, tick, tools }: { agent: string; query: URLSearchParams; tick: number; tools: { name: string; calls: number }[] }) {
  const offset = query.get('offset') ?? undefined;
  const params = {
    name: query.get('name') ?? undefined,
    status: query.get('status') ?? undefined,
    path: query.get('path') ?? undefined,
    q: query.get('q') ?? undefined,
    since: query.get('since') ?? undefined,
    until: query.get('until') ?? undefined,
    limit: PAGE,
    offset,
    page: offset === undefined ? 'last' : undefined,
  };
  // one round trip: the page of calls and the file changes of its time span
  const page = useFetch<Page>(agentUrl(agent, '/calls', { ...params, journal: 500 }), [tick]);
  const calls = page.data?.calls ?? [];
  // running calls grow with the clock, between updates from the server too
  const running = calls.some((c) => c.status === 'pending');
  const [, setClock] = useState(0);
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setClock((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [running]);
  const files = page.data?.journal?.entries ?? [];
  return (
    <section>
      <Filters agent={agent} query={query} tools={tools} />
      {page.error && <p class="error">{page.error}</p>}
      {page.data && <Pager agent={agent} query={query} page={page.data} />}
      {page.data && !calls.length && <p class="muted" id="no-calls">No tool calls match.</p>}
      {calls.length > 0 && <Waterfall agent={agent} query={query} calls={calls} files={files} />}
      {calls.length > 0 && <p class="muted hint">Drag across the bars to zoom into a time range. Ticks on a row are the call's file changes.</p>}
      {calls.length > 0 && (
        <Events
          agent={agent}
          calls={calls}
          files={files}
          truncated={page.data?.journal?.truncated ?? false}
          range={{
            since: params.since ?? String(Math.min(...calls.map((c) => c.start_ns))),
            // open-ended while a call runs (its changes keep coming), so the key stays the same
            until: params.until ?? (calls.some((c) => c.end_ns === undefined) ? undefined : String(Math.max(...calls.map((c) => c.end_ns!)))),
            path: params.path,
          }}
        />
      )}
    </section>
  );
}
