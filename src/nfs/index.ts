export { NfsServer, DEFAULT_NFS_HOST, DEFAULT_NFS_PORT, isLoopback, type NfsServerOptions } from './server.js';
export { serveAgentNfs, type AgentNfs, type AgentNfsOptions } from './agent.js';
