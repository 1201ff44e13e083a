#!/usr/bin/env node
// Benchmarks (not tests): every suite runs agentfs and its baseline side by side in the same run,
// and reports ratios. Usage: node bench/run.js [suite...]  (default: every suite in bench/suites)
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeMachine, holdIdle, machineLine } from './machine.js';

const here = dirname(fileURLToPath(import.meta.url));
const suitesDir = join(here, 'suites');
const wanted = process.argv.slice(2);
const names = readdirSync(suitesDir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort();

let held;
try {
  held = holdIdle(process.env.BENCH_IDLE);
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exit(2);
}
const machine = describeMachine(held.idle);
console.log(machineLine(machine));

const rows = [];
function fmt(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return String(n ?? '');
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}
function report(row) {
  rows.push(row);
  const ratio = row.ratio ?? (row.agentfs && row.baseline ? row.agentfs / row.baseline : undefined);
  console.log(
    [
      row.suite.padEnd(8),
      row.workload.padEnd(38),
      `agentfs ${fmt(row.agentfs)} ${row.unit}`.padEnd(26),
      `${row.baselineName ?? 'baseline'} ${fmt(row.baseline)}`.padEnd(28),
      ratio === undefined ? '' : `ratio ${fmt(ratio)}x`,
      row.note ? ` (${row.note})` : '',
    ].join(' '),
  );
}

for (const name of names) {
  console.log(`\n== ${name} ==`);
  const suite = await import(pathToFileURL(join(suitesDir, `${name}.js`)).href);
  try {
    await suite.run(report);
  } catch (e) {
    console.error(`suite ${name} failed: ${e?.stack ?? e}`);
    process.exitCode = 1;
  }
}

held.release();

const out = join(here, 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ machine, rows }, null, 2));
console.log(`\nresults: ${file}`);
