export { InodeFs, type InodeFsOptions } from './inode-fs.js';
export { PathFs, type PathFsOptions, type TreeEntry, type OpenFlags } from './paths.js';
export type { FsMutation, MutationObserver } from './mutation.js';
export { checkAccess } from './access.js';
export { checkName } from './names.js';
export { readdirPlusPages } from './readdir-pages.js';
export { freeBytes } from './ops/statfs.js';
export { now, nowNs, toNs, toMs, fromMs } from './time.js';
export { findDirectoryCycle } from './tree-check.js';
