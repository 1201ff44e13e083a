export { runSandbox, prepareSession, RunError, type RunOptions, type RunOutcome } from './run.js';
export { listRuns, sessionInUse, type PsRow } from './ps.js';
export { resolveAgent, resolveDatabase, type ResolvedAgent } from './resolve.js';
export { defaultAllows } from './allow.js';
export { launcherPath, checkNamespaces, NamespaceError } from './launcher.js';
