export { createMcpServer, serveStdio, type AgentMcpServerOptions } from './server.js';
export { MCP_TOOLS, MCP_TOOL_NAMES, selectTools, type McpTool } from './tools.js';
export { CallRecorder, auditValue, AUDIT_STRING_MAX } from './recorder.js';
export { agentPath } from './paths.js';
export { LineStdioTransport, MAX_MESSAGE_BYTES } from './line-transport.js';
