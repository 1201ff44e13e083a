#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by the set-up step (npm run build).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // answered here: loading the CLI (commander, the command table) would double the start-up time
  const { readFileSync } = await import('node:fs');
  console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
} else {
  await import('../dist/cli/main.js').catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
      console.error('agentfs: not built yet; run `npm run build` (or `bash scripts/setup.sh`) first');
      process.exit(1);
    }
    throw err;
  });
}
