export { ToolCalls, ToolCallError, toJson, errorText } from './calls.js';
export { nowNs, nsToSeconds, nsToMs } from './clock.js';
export { TOOL_CALLS_SCHEMA } from './schema.js';
export type { ToolCall, ToolCallFilter, ToolCallStats, ToolCallStatus, StartOptions, RecordInput } from './types.js';
export { TOOL_CALL_STATUSES } from './types.js';
export { startCommandCall, CommandCall, TailBuffer, type CommandCallOptions, type CommandExit } from './command.js';
export { CallReader, type CallRow, type CallDetail, type CallQuery, type CallPage, type ToolFigures, type CallTotals } from './reader.js';
