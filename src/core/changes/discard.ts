import type { OverlayFs } from '../overlay/index.js';
import { computeChanges, normalizeScope } from './diff.js';
import type { Change } from './types.js';

/**
 * Drops changes: the merged view at each path (or everywhere) shows the base again. Deleted and
 * renamed-away base entries come back, new and modified ones go.
 */
export function discardChanges(ov: OverlayFs, paths: readonly string[] = []): Change[] {
  const scope = normalizeScope(paths);
  const changes = computeChanges(ov, scope);
  const targets = scope.length && !scope.includes('/') ? scope : null;
  ov.store.transaction(() => {
    if (!targets) {
      for (const e of ov.delta.readdir(ov.delta.rootIno)) ov.dropDeltaEntry(`/${e.name}`, true);
      ov.whiteouts.removeUnder('/');
      ov.resetRoot();
      return;
    }
    for (const p of targets) {
      ov.dropDeltaEntry(p, true);
      ov.whiteouts.remove(p);
      ov.whiteouts.removeUnder(p);
    }
  });
  return changes;
}
