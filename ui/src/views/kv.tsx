import { useState } from 'preact/hooks';
import { agentUrl } from '../api';
import { time } from '../format';
import { useFetch } from '../hooks';

interface KvPage {
  entries: { key: string; value: string; created_at: number | null; updated_at: number | null }[];
  more: boolean;
  total: number;
}

export function KvView({ agent, tick }: { agent: string; tick: number }) {
  const [prefix, setPrefix] = useState('');
  const [after, setAfter] = useState<string[]>([]); // keys where earlier pages ended
  const d = useFetch<KvPage>(agentUrl(agent, '/kv', { prefix, after: after[after.length - 1], limit: 100 }), [tick]);
  return (
    <section class="kv">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setPrefix(String(new FormData(e.currentTarget as HTMLFormElement).get('prefix') ?? ''));
          setAfter([]);
        }}
      >
        <label>
          key prefix <input name="prefix" value={prefix} />
        </label>
        <button type="submit">Apply</button>
        {d.data && <span class="muted"> {d.data.total} keys in all</span>}
      </form>
      {d.error && <p class="error">{d.error}</p>}
      {d.data && (
        <>
          <table class="list" id="kv">
            <thead>
              <tr>
                <th>key</th>
                <th>value</th>
                <th>updated</th>
              </tr>
            </thead>
            <tbody>
              {d.data.entries.map((e) => (
                <tr key={e.key}>
                  <td class="path">{e.key}</td>
                  <td>
                    <pre class="json small">{e.value}</pre>
                  </td>
                  <td>{e.updated_at ? time(e.updated_at * 1000) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {!d.data.entries.length && <p class="muted">no keys</p>}
          <div class="pager">
            <button type="button" disabled={!after.length} onClick={() => setAfter(after.slice(0, -1))}>‹ previous</button>
            <button type="button" disabled={!d.data.more} onClick={() => setAfter([...after, d.data!.entries[d.data!.entries.length - 1]!.key])}>
              next ›
            </button>
          </div>
        </>
      )}
    </section>
  );
}
