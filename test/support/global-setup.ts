import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** CLI tests spawn bin/agentfs.js, which runs dist/: compile first (type errors are checked by `npm run typecheck`). */
export default function setup(): void {
  if (process.env.AGENTFS_SKIP_BUILD === '1') return;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
      stdio: 'pipe',
    });
  } catch {
    /* tsc still emits on type errors; typecheck reports them */
  }
}
