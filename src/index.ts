/** agentfs SDK: `import { AgentFS } from 'agentfs'`. */
export { AgentFS, type AgentFSOptions } from './sdk/agentfs.js';
export { AgentFsFilesystem } from './sdk/fs.js';
export { AgentKv } from './sdk/kv.js';
export { AgentTools, ToolCallHandle, type CallRef } from './sdk/tools.js';
export { ToolCallError } from './core/tools/index.js';
export type { ToolCall, ToolCallFilter, ToolCallStats, ToolCallStatus } from './core/tools/index.js';
export { FsError, type ErrnoCode } from './core/errors.js';
export { StoreError } from './store/errors.js';
export { AgentfsError, ERROR_CODES, type ErrorCode } from './errors.js';
export * from './core/types.js';
