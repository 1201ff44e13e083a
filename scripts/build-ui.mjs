#!/usr/bin/env node
// Bundles the web app of `agentfs ui` (ui/) into dist/ui/assets: index.html, app.js, app.css.
// Everything it needs is inside these three files: nothing is fetched from the network at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui', 'assets');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(root, 'ui', 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
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
  for (const f of ['index.html', 'app.js', 'app.css']) {
    const buf = readFileSync(join(out, f));
    raw += statSync(join(out, f)).size;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  console.log(JSON.stringify({ assets_bytes: raw, assets_gzip_bytes: gz }));
}
