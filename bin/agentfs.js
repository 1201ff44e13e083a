#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by the set-up step (npm run build).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('agentfs: not built yet; run `npm run build` (or `bash scripts/setup.sh`) first');
    process.exit(1);
  }
  throw err;
});
