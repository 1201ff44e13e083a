import { agentUrl, type CallDetail, type JournalEntry } from '../api';
import { describe, duration, pretty, time } from '../format';
import { href, useFetch } from '../hooks';
import { DiffView } from './diff';

interface Detail {
  call: CallDetail;
  files: JournalEntry[];
  files_truncated: boolean;
  overlay: boolean;
}

function Json({ value, id, length }: { value: unknown; id: string; length?: number }) {
  return (
    <>
      {length !== undefined && <p class="muted">the first {String(value).length.toLocaleString()} of {length.toLocaleString()} characters</p>}
      <pre class="json" id={id}>
        {pretty(value)}
      </pre>
    </>
  );
}

export function CallPage({ agent, id, tick }: { agent: string; id: number; tick: number }) {
  const d = useFetch<Detail>(agentUrl(agent, `/calls/${id}`), [tick, id]);
  if (d.error) return <p class="error">{d.error}</p>;
  if (!d.data || d.data.call.id !== id) return <p class="muted">loading…</p>;
  const { call, files } = d.data;
  const result = call.result as Record<string, unknown> | undefined;
  const tails = result && typeof result === 'object' && ('stdout_tail' in result || 'stderr_tail' in result);
  // content changes only: a directory's mkdir/chmod has no diff of its own
  const contentOps = new Set(['create', 'write', 'truncate', 'unlink', 'rename', 'link', 'mknod']);
  const paths = [
    ...new Set(
      files
        .filter((f) => contentOps.has(f.op))
        .flatMap((f) => [f.path, f.op === 'rename' || f.op === 'link' ? f.new_path : undefined])
        .filter((p): p is string => !!p),
    ),
  ];
  return (
    <section class="call" id="call" data-call={call.id}>
      <p>
        <a href={href(['a', agent, 'timeline'], { offset: undefined })}>← timeline</a>
      </p>
      <h2>
        <span class={`badge status-${call.status}`}>{call.status}</span> {call.name} <span class="muted">#{call.id}</span>
      </h2>
      <table class="kv-table">
        <tbody>
          <tr>
            <th>started</th>
            <td>{time(call.start_ns / 1e6)}</td>
          </tr>
          <tr>
            <th>ended</th>
            <td>{call.end_ns ? time(call.end_ns / 1e6) : 'still running'}</td>
          </tr>
          <tr>
            <th>duration</th>
            <td>{duration(call.duration_ms)}</td>
          </tr>
          {call.parent_id !== undefined && (
            <tr>
              <th>inside</th>
              <td>
                <a href={href(['a', agent, 'call', call.parent_id])}>call #{call.parent_id}</a>
              </td>
            </tr>
          )}
          {call.pid !== undefined && (
            <tr>
              <th>pid</th>
              <td>{call.pid}</td>
            </tr>
          )}
        </tbody>
      </table>
      <h3>Arguments</h3>
      {call.parameters === undefined ? <p class="muted">none</p> : <Json value={call.parameters} id="call-args" length={call.parameters_length} />}
      {call.error !== undefined && (
        <>
          <h3>Error</h3>
          <pre class="json error-text" id="call-error">
            {call.error}
          </pre>
        </>
      )}
      {call.result !== undefined && (
        <>
          <h3>Result</h3>
          <Json
            value={tails ? { ...result, stdout_tail: undefined, stderr_tail: undefined } : call.result}
            id="call-result"
            length={call.result_length}
          />
        </>
      )}
      {tails && (
        <>
          <h3>Output tail</h3>
          {result!.stdout_tail ? <pre class="out">{String(result!.stdout_tail)}</pre> : <p class="muted">no stdout</p>}
          {result!.stderr_tail ? <pre class="out err">{String(result!.stderr_tail)}</pre> : null}
        </>
      )}
      {call.children.length > 0 && (
        <>
          <h3>Nested calls ({call.children.length})</h3>
          <ul class="children">
            {call.children.map((c) => (
              <li key={c.id}>
                <span class={`badge status-${c.status}`}>{c.status}</span> <a href={href(['a', agent, 'call', c.id])}>{c.name}</a>{' '}
                <span class="muted">{duration(c.duration_ms)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Files it changed ({files.length}{d.data.files_truncated ? '+' : ''})</h3>
      {files.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <table class="list" id="call-files">
          <tbody>
            {files.map((f) => (
              <tr key={f.id}>
                <td>{time(f.time_ns / 1e6)}</td>
                <td>
                  <span class="badge file">fs:{f.op}</span>
                </td>
                <td class="path">{describe(f)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {paths.length > 0 && <h3>{d.data.overlay ? 'Diffs against the base (content now)' : 'Content now'}</h3>}
      {paths.slice(0, 20).map((p) => (
        <DiffView key={p} agent={agent} path={p} tick={tick} />
      ))}
      {paths.length > 20 && <p class="muted">{paths.length - 20} more files: see the Diff tab.</p>}
    </section>
  );
}
