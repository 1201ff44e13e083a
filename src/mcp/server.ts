/**
 * The MCP server over one agent: McpServer (official SDK) announces the tools with JSON Schemas
 * made from their zod schemas, and every tools/call goes through the CallRecorder.
 */
import { FsError } from '../core/errors.js';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Agent } from '../core/agent.js';
import { CallRecorder, errorMessage } from './recorder.js';
import { MCP_TOOL_NAMES, selectTools, type McpTool } from './tools.js';
import { LineStdioTransport } from './line-transport.js';
import { onStopSignal } from '../platform/signals.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface AgentMcpServerOptions {
  /** tool names to offer (default: all); unknown names throw AgentfsError 'usage' */
  tools?: readonly string[];
}

/** Arguments failed the tool's input schema: EINVAL, as a file operation with bad arguments. */
function argumentError(message: string): FsError {
  return new FsError('EINVAL', undefined, undefined, message);
}

interface Enabled {
  tool: McpTool;
  input: z.ZodTypeAny;
}

/**
 * Builds (does not connect) an MCP server exposing the agent's filesystem and kv store.
 *
 * McpServer validates arguments itself and answers invalid calls without ever invoking the tool,
 * so those calls would be missing from the audit trail. We therefore register the tools with it
 * (for initialize and tools/list) but answer tools/call ourselves: look the tool up, record the
 * call, validate, run. The callbacks given to registerTool take the same recorded path.
 */
export function createMcpServer(agent: Agent, options: AgentMcpServerOptions = {}): McpServer {
  const enabled = new Map<string, Enabled>();
  for (const tool of selectTools(options.tools)) {
    // strict: a misspelt optional argument is an error, not silently ignored
    enabled.set(tool.name, { tool, input: z.object(tool.input).strict() });
  }
  const recorder = new CallRecorder(agent.tools);
  const server = new McpServer(
    { name: 'agentfs', title: 'AgentFS', version: pkg.version },
    {
      capabilities: { tools: { listChanged: false } },
      instructions:
        "Files and key-value state of one AgentFS agent. Paths are absolute inside the agent's own filesystem " +
        '(relative paths start at /; .. never leaves it). Every call is recorded in the agent audit trail.',
    },
  );

  const call = (name: string, args: unknown): CallToolResult => {
    try {
      const result = recorder.run(name, args, () => {
        const e = enabled.get(name);
        if (!e) {
          const why = MCP_TOOL_NAMES.includes(name) ? 'is not enabled on this server (see --tools)' : 'does not exist';
          throw argumentError(`tool '${name}' ${why}`);
        }
        const parsed = e.input.safeParse(args ?? {});
        if (!parsed.success) throw argumentError(`invalid arguments for ${name}: ${describeIssues(parsed.error)}`);
        return e.tool.run(agent, parsed.data as never) as Record<string, unknown>;
      });
      // structured result, and the same as JSON text for clients that read only text
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    } catch (e) {
      // a tool error for the client (the model sees it), never a crash of the server
      return { content: [{ type: 'text', text: errorMessage(e) }], isError: true };
    }
  };

  for (const { tool, input } of enabled.values()) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: input,
        outputSchema: z.object(tool.output),
        annotations: tool.annotations,
      },
      (args: unknown) => call(tool.name, args),
    );
  }
  server.server.setRequestHandler(CallToolRequestSchema, (request) => call(request.params.name, request.params.arguments));
  return server;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : 'arguments';
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

/**
 * Serves the agent over stdin/stdout until the client disconnects (stdin ends) or the process
 * is told to stop; resolves after the server is closed. stdout carries only protocol messages.
 */
export async function serveStdio(agent: Agent, options: AgentMcpServerOptions = {}): Promise<void> {
  const server = createMcpServer(agent, options);
  // ours, not the SDK's: bounded lines, and a JSON-RPC error for every line it cannot take
  const transport = new LineStdioTransport();
  // what the transport refuses itself (a kv_set number a double would change) is audited too
  const refusals = new CallRecorder(agent.tools);
  transport.onrefusedcall = (name, args, why) => refusals.refused(name, args, why);
  // what cannot be answered (a client gone, a reply to nothing) is said on stderr, once a line
  server.server.onerror = (e) => {
    const gone = (e as NodeJS.ErrnoException)?.code === 'EPIPE';
    const what = gone ? 'the client closed its end of the connection' : String(e?.message ?? e).replace(/\s+/g, ' ').slice(0, 500);
    process.stderr.write(`agentfs: mcp: ${what}\n`);
  };
  // set before connect: the SDK chains its own close handling after this one
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
  });
  await server.connect(transport);
  const stop = () => void server.close().catch(() => undefined);
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  const removeHandlers = onStopSignal(stop);
  try {
    await closed;
  } finally {
    process.stdin.off('end', stop);
    process.stdin.off('close', stop);
    removeHandlers();
  }
}
