#!/usr/bin/env node
// Bundles the web app of `agentfs ui` (ui/) into dist/ui/assets: index.html, app.js, app.css and
// the chunks loaded on demand (charts, diffs).
// Everything it needs is inside these three files: nothing is fetched from the network at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui', 'assets');
rmSync(out, { recursive: true, force: true }); // no stale chunks of earlier builds
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(root, 'ui', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  // the charts and the diff renderer load when first needed, not with the first screen
  splitting: true,
  chunkNames: 'chunk-[hash]',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});
copyFileSync(join(root, 'ui', 'index.html'), join(out, 'index.html'));

if (process.argv.includes('--report')) {
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(out)) {
    const buf = readFileSync(join(out, f));
    raw += buf.length;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  console.log(JSON.stringify({ assets_bytes: raw, assets_gzip_bytes: gz }));
}
