import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'diff2html/bundles/css/diff2html.min.css';
import './style.css';
import { get, type AgentSummary } from './api';
import { ago, bytes, time } from './format';
import { href, useRoute } from './hooks';
import { AgentPage } from './views/agent';

function AgentList() {
  const [agents, setAgents] = useState<AgentSummary[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    const load = () =>
      get<AgentSummary[]>('api/agents').then(
        (a) => live && (setAgents(a), setError(undefined)),
        (e: Error) => live && setError(e.message),
      );
    load();
    const t = setInterval(load, 2000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  return (
    <main>
      <h1>Agents</h1>
      {error && <p class="error">{error}</p>}
      {agents && !agents.length && <p class="muted">No agents here: none in ./.agentfs and no run sessions.</p>}
      {agents && agents.length > 0 && (
        <table class="list agents" id="agents">
          <thead>
            <tr>
              <th>id</th>
              <th>path</th>
              <th class="num">size</th>
              <th class="num">tool calls</th>
              <th class="num">failures</th>
              <th class="num">file changes</th>
              <th>last activity</th>
              <th>overlay base</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.key} data-agent={a.key}>
                <td>
                  <a href={href(['a', a.key])}>{a.label}</a> {a.kind === 'session' && <span class="tag">run session</span>}
                </td>
                <td class="path">{a.path}</td>
                <td class="num">{bytes(a.size)}</td>
                <td class="num">{a.calls ?? ''}</td>
                <td class={`num ${a.failures ? 'bad' : ''}`}>{a.failures ?? ''}</td>
                <td class="num">{a.file_changes ?? ''}</td>
                <td title={time(a.last_activity_ms)}>{ago(a.last_activity_ms)}</td>
                <td class="path">{a.error ? <span class="error">{a.error}</span> : a.base ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

function App() {
  const route = useRoute();
  const [first, key] = route.parts;
  return (
    <div class="app">
      <header class="top">
        <a href="#/" class="brand">agentfs</a>
        {key && <span class="crumb">/ {key}</span>}
      </header>
      {first === 'a' && key ? <AgentPage key={key} agent={key} route={route} /> : <AgentList />}
    </div>
  );
}

render(<App />, document.getElementById('app')!);
