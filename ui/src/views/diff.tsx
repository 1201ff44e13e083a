import { useEffect, useState } from 'preact/hooks';
import { agentUrl, type FileDiff } from '../api';
import { bytes } from '../format';
import { useFetch } from '../hooks';

type Render = (typeof import('diff2html'))['html'];
let loading: Promise<Render> | undefined;

/** diff2html, loaded with the first diff shown (a chunk of its own: the first screen needs none). */
function useDiff2Html(): Render | undefined {
  const [render, setRender] = useState<Render | undefined>();
  useEffect(() => {
    loading ??= import('diff2html').then((m) => m.html);
    void loading.then((r) => setRender(() => r));
  }, []);
  return render;
}

/** Side-by-side or unified, remembered for the session. */
function useLayout(): ['side-by-side' | 'line-by-line', (v: 'side-by-side' | 'line-by-line') => void] {
  const [layout, setLayout] = useState<'side-by-side' | 'line-by-line'>(
    (sessionStorage.getItem('diff-layout') as 'side-by-side' | 'line-by-line') ?? 'line-by-line',
  );
  return [
    layout,
    (v) => {
      sessionStorage.setItem('diff-layout', v);
      setLayout(v);
    },
  ];
}

/** One file's diff (diff2html; its output escapes the file's text). */
export function DiffView({ agent, path, tick }: { agent: string; path: string; tick: number }) {
  const d = useFetch<FileDiff>(agentUrl(agent, '/diff', { path }), [tick]);
  const [layout, setLayout] = useLayout();
  const html = useDiff2Html();
  if (d.error) return <p class="error">{d.error}</p>;
  if (!d.data || d.data.path !== path) return <p class="muted">loading diff of {path}…</p>;
  const f = d.data;
  return (
    <div class="diff" data-path={path}>
      <div class="diff-head">
        <code>{path}</code> {f.status && <span class={`chg chg-${f.status}`}>{f.status}</span>}
        {f.patch && (
          <span class="layout">
            <button type="button" class={layout === 'line-by-line' ? 'on' : ''} onClick={() => setLayout('line-by-line')}>unified</button>
            <button type="button" class={layout === 'side-by-side' ? 'on' : ''} onClick={() => setLayout('side-by-side')}>side by side</button>
          </span>
        )}
      </div>
      {f.binary && <p class="muted">binary, {bytes(f.size ?? 0)}</p>}
      {f.note && <p class="muted">{f.note}</p>}
      {f.patch && html && (
        <div
          class="d2h"
          // diff2html builds the HTML and escapes every line of the file itself
          dangerouslySetInnerHTML={{ __html: html(f.patch, { drawFileList: false, outputFormat: layout, matching: 'lines' }) }}
        />
      )}
    </div>
  );
}
