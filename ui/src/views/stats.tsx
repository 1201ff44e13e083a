import type { Chart as ChartType, ChartConfiguration } from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import { agentUrl, type Stats } from '../api';
import { bytes, duration } from '../format';
import { useFetch } from '../hooks';

let loading: Promise<typeof ChartType> | undefined;

/** Chart.js, loaded when the stats are first shown (a chunk of its own), with what bar charts need. */
function loadChart(): Promise<typeof ChartType> {
  loading ??= import('chart.js').then(({ BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip }) => {
    Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
    return Chart;
  });
  return loading;
}

const COLORS = { success: '#2e9e5b', error: '#d64545', pending: '#d9a400', p50: '#5b8def', p95: '#8e5bd6', path: '#4aa3a3' };

/** A Chart.js bar chart; rebuilt when its data changes. */
function BarChart({ id, config, height }: { id: string; config: () => ChartConfiguration<'bar'>; height: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const cfg = config();
  const sig = JSON.stringify(cfg.data);
  useEffect(() => {
    let chart: ChartType<'bar'> | undefined;
    let live = true;
    void loadChart().then((Chart) => {
      if (live) chart = new Chart(canvas.current!, { ...cfg, options: { animation: false, maintainAspectRatio: false, ...cfg.options } });
    });
    return () => {
      live = false;
      chart?.destroy();
    };
  }, [sig]);
  return (
    <div class="chart" style={{ height: `${height}px` }}>
      <canvas id={id} ref={canvas} />
    </div>
  );
}

export function StatsView({ agent, tick }: { agent: string; tick: number }) {
  const d = useFetch<Stats>(agentUrl(agent, '/stats'), [tick]);
  if (d.error) return <p class="error">{d.error}</p>;
  if (!d.data) return <p class="muted">loading…</p>;
  const { tools, paths, ops } = d.data;
  const top = tools.slice(0, 25);
  const h = Math.max(160, top.length * 26 + 60);
  return (
    <section class="stats">
      <div class="charts">
        <div>
          <h3>Calls per tool</h3>
          <BarChart
            id="chart-calls"
            height={h}
            config={() => ({
              type: 'bar',
              data: {
                labels: top.map((t) => t.name),
                datasets: [
                  { label: 'success', data: top.map((t) => t.success), backgroundColor: COLORS.success },
                  { label: 'error', data: top.map((t) => t.error), backgroundColor: COLORS.error },
                  { label: 'pending', data: top.map((t) => t.pending), backgroundColor: COLORS.pending },
                ],
              },
              options: { indexAxis: 'y', scales: { x: { stacked: true }, y: { stacked: true } } },
            })}
          />
        </div>
        <div>
          <h3>Duration p50 / p95 (ms)</h3>
          <BarChart
            id="chart-durations"
            height={h}
            config={() => ({
              type: 'bar',
              data: {
                labels: top.map((t) => t.name),
                datasets: [
                  { label: 'p50', data: top.map((t) => t.p50_ms), backgroundColor: COLORS.p50 },
                  { label: 'p95', data: top.map((t) => t.p95_ms), backgroundColor: COLORS.p95 },
                ],
              },
              options: { indexAxis: 'y' },
            })}
          />
        </div>
        <div>
          <h3>Most changed paths</h3>
          <BarChart
            id="chart-paths"
            height={Math.max(160, paths.length * 22 + 60)}
            config={() => ({
              type: 'bar',
              data: { labels: paths.map((p) => p.path), datasets: [{ label: 'changes', data: paths.map((p) => p.changes), backgroundColor: COLORS.path }] },
              options: { indexAxis: 'y', plugins: { legend: { display: false } } },
            })}
          />
        </div>
      </div>
      <h3>Per tool</h3>
      <table class="list" id="stats-tools">
        <thead>
          <tr>
            <th>tool</th>
            <th class="num">calls</th>
            <th class="num">failed</th>
            <th class="num">failure rate</th>
            <th class="num">running</th>
            <th class="num">p50</th>
            <th class="num">p95</th>
            <th class="num">max</th>
          </tr>
        </thead>
        <tbody>
          {tools.map((t) => (
            <tr key={t.name}>
              <td>{t.name}</td>
              <td class="num">{t.calls}</td>
              <td class={`num ${t.error ? 'bad' : ''}`}>{t.error}</td>
              <td class="num">{(t.failure_rate * 100).toFixed(1)}%</td>
              <td class="num">{t.pending}</td>
              <td class="num">{duration(t.p50_ms)}</td>
              <td class="num">{duration(t.p95_ms)}</td>
              <td class="num">{duration(t.max_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Most changed paths</h3>
      <table class="list" id="stats-paths">
        <thead>
          <tr>
            <th>path</th>
            <th class="num">changes</th>
            <th class="num">written</th>
          </tr>
        </thead>
        <tbody>
          {paths.map((p) => (
            <tr key={p.path}>
              <td class="path">{p.path}</td>
              <td class="num">{p.changes}</td>
              <td class="num">{bytes(p.bytes_written)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        File operations:{' '}
        {Object.entries(ops)
          .map(([op, n]) => `${op} ${n}`)
          .join(' · ') || 'none'}
      </p>
    </section>
  );
}
