export { runSandbox, prepareSession, RunError, type RunOptions, type RunOutcome } from './run.js';
export { listRuns, resolveDatabase, sessionInUse, type PsRow } from './ps.js';
export { defaultAllows } from './allow.js';
export { launcherPath, checkNamespaces, NamespaceError } from './launcher.js';
