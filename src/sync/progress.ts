import cliProgress from 'cli-progress';

/** Progress of a transfer: a bar with rows, bytes and rate on a terminal, nothing when piped. */
export interface Progress {
  start(totalRows: number): void;
  advance(rows: number, bytes: number): void;
  stop(): void;
}

export function createProgress(label: string, enabled = Boolean(process.stderr.isTTY)): Progress {
  if (!enabled) return { start() {}, advance() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  let rows = 0;
  let bytes = 0;
  let started = 0;
  return {
    start(totalRows) {
      started = Date.now();
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {value}/{total} rows | {mib} MiB | {rate} MiB/s | {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(totalRows, 1), 0, { mib: '0.0', rate: '0.0' });
    },
    advance(r, b) {
      rows += r;
      bytes += b;
      const secs = Math.max((Date.now() - started) / 1000, 0.001);
      bar?.update(rows, { mib: (bytes / 1048576).toFixed(1), rate: (bytes / 1048576 / secs).toFixed(1) });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
