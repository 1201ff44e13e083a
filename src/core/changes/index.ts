export type { Change, ChangeStatus, FileType } from './types.js';
export { computeChanges, normalizeScope } from './diff.js';
export { patchOf } from './patch.js';
export { commitChanges, type CommitOptions, type CommitResult, type Conflict } from './commit.js';
export { discardChanges } from './discard.js';
