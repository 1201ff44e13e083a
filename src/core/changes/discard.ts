import type { OverlayChanges } from '../overlay/index.js';
import { computeChanges, normalizeScope } from './diff.js';
import type { Change } from './types.js';

/**
 * Drops changes: the merged view at each path (or everywhere) shows the base again. Deleted and
 * renamed-away base entries come back, new and modified ones go.
 */
export function discardChanges(ov: OverlayChanges, paths: readonly string[] = []): Change[] {
  const scope = normalizeScope(paths);
  let changes = computeChanges(ov, scope);
  const targets = scope.length && !scope.includes('/') ? scope : null;
  // another name of a hard-linked file shows the copy under the name it came from: dropping that
  // copy is what brings the base back, under every name
  const sources = changes.flatMap((c) => (c.linkedFrom !== undefined && !targets?.includes(c.linkedFrom) ? [c.linkedFrom] : []));
  if (targets && sources.length) {
    targets.push(...new Set(sources));
    changes = computeChanges(ov, targets);
  }
  ov.transaction(() => {
    if (!targets) {
      for (const e of ov.delta.readdir(ov.delta.rootIno)) ov.dropDeltaEntry(`/${e.name}`, true);
      ov.clearWhiteouts('/');
      ov.dropHidden('/');
      ov.resetRoot();
      return;
    }
    for (const p of targets) {
      ov.dropDeltaEntry(p, true);
      ov.clearWhiteouts(p);
      ov.dropHidden(p);
    }
    // deleted inside a directory moved here: the diff names its base path, the deletion (and its
    // record) sit at the new place; the entry shows there again
    for (const c of changes) {
      const hid = c.status === 'D' ? ov.hiddenFrom(c.path) : undefined;
      if (!hid || hid.path === c.path) continue;
      if (ov.whiteoutTime(hid.path) !== undefined) ov.dropWhiteout(hid.path);
      ov.dropHidden(hid.path);
    }
  });
  return changes;
}
