import { agentUrl, type Overview } from '../api';
import { ago, bytes } from '../format';
import { href, useFetch, useLive, type Route } from '../hooks';
import { CallPage } from './call';
import { ChangesView } from './changes';
import { FilesView } from './files';
import { KvView } from './kv';
import { StatsView } from './stats';
import { TimelineView } from './timeline';

const TABS: [string, string][] = [
  ['timeline', 'Timeline'],
  ['changes', 'Diff'],
  ['files', 'Files'],
  ['kv', 'KV'],
  ['stats', 'Stats'],
];

export function AgentPage({ agent, route }: { agent: string; route: Route }) {
  const tick = useLive(agent);
  const ov = useFetch<Overview>(agentUrl(agent), [tick]);
  const [, , tab = 'timeline', id] = route.parts;
  const o = ov.data;
  return (
    <main>
      <section class="agent-head">
        <h1>{o?.label ?? agent}</h1>
        {ov.error && <p class="error">{ov.error}</p>}
        {o && (
          <p class="facts">
            <span>{o.calls ?? 0} tool calls</span>
            <span class={o.failures ? 'bad' : ''}>{o.failures ?? 0} failed</span>
            {o.pending ? <span class="pending-text">{o.pending} running</span> : null}
            <span>{o.file_changes ?? 0} file changes</span>
            <span>{bytes(o.size)}</span>
            <span>last activity {ago(o.last_activity_ms)}</span>
            {o.base && <span>overlay on <code>{o.base}</code></span>}
            <span class="path">{o.path}</span>
            <span class="live" title="updates as the agent works">● live</span>
          </p>
        )}
      </section>
      <nav class="tabs">
        {TABS.filter(([t]) => t !== 'changes' || o?.base).map(([t, label]) => (
          <a key={t} href={href(['a', agent, t])} class={tab === t || (tab === 'call' && t === 'timeline') ? 'active' : ''} data-tab={t}>
            {label}
          </a>
        ))}
      </nav>
      {tab === 'timeline' && <TimelineView agent={agent} query={route.query} tick={tick} tools={o?.tools ?? []} />}
      {tab === 'call' && id && <CallPage agent={agent} id={Number(id)} tick={tick} />}
      {tab === 'changes' && <ChangesView agent={agent} tick={tick} query={route.query} />}
      {tab === 'files' && <FilesView agent={agent} tick={tick} query={route.query} />}
      {tab === 'kv' && <KvView agent={agent} tick={tick} />}
      {tab === 'stats' && <StatsView agent={agent} tick={tick} />}
    </main>
  );
}
