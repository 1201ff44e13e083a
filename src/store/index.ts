export { Store, type Db, type Statement, type OpenOptions } from './store.js';
export { StoreError } from './errors.js';
export { databasePath, looksLikePath, validateId, isValidId, AGENT_DIR, type AgentTarget } from './locate.js';
export { SCHEMA_VERSION, DEFAULT_CHUNK_SIZE, DENTRY_PARENT_INDEX } from './schema.js';
export { detectLayout, type Layout } from './layout.js';
export { damage, pageCounts, withBusyTimeout, vacuum, checkpointWal, type PageCounts, type StepOutcome, type WalCheckpoint } from './maintenance.js';
export { checkForeignText, checkForeignTextInFile } from './foreign-text.js';
export { Where } from './where.js';
