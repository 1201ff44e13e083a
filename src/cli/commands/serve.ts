import type { Command } from 'commander';
import { Agent } from '../../core/agent.js';
import { targetFromArg } from '../../store/index.js';
import { MCP_TOOL_NAMES, selectTools, serveStdio } from '../../mcp/index.js';
import { UserError } from '../errors.js';
import { onOutputClosed } from '../output.js';
import { registerServeNfs } from './serve-nfs.js';

interface McpOptions {
  tools?: string;
}

/** `--tools a,b,c` as tool names; unknown or missing names are a usage error. */
export function parseToolList(list: string): string[] {
  const names = list
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  if (!names.length) throw new UserError(`--tools: no tool names given (available: ${MCP_TOOL_NAMES.join(', ')})`);
  try {
    selectTools(names);
  } catch (e) {
    throw new UserError(`--tools: ${(e as Error).message}`);
  }
  return names;
}

export function registerServe(program: Command): void {
  const serve = program.command('serve').description('Serve an agent to other programs');
  serve
    .command('mcp')
    .description('Serve the agent\'s files and kv store as MCP tools over stdin/stdout; every call is recorded as a tool call')
    .argument('<ID_OR_PATH>', 'agent id or path to a .db file')
    .option('--tools <LIST>', `comma-separated tools to offer (default: all of ${MCP_TOOL_NAMES.join(', ')})`)
    .action(async (idOrPath: string, opts: McpOptions) => {
      // check the arguments before opening anything
      const tools = opts.tools === undefined ? undefined : parseToolList(opts.tools);
      const agent = Agent.open(targetFromArg(idOrPath));
      try {
        // stdout belongs to the protocol: tell the human on stderr
        console.error(
          `agentfs: serving ${agent.store.path} over MCP on stdio (tools: ${(tools ?? MCP_TOOL_NAMES).join(', ')})`,
        );
        // a client that closes stdout ends the session through the transport (one line, exit 0),
        // not by the CLI-wide SIGPIPE death, which would leave the stored calls unfinished
        const restore = onOutputClosed(() => {});
        try {
          await serveStdio(agent, { tools });
        } finally {
          restore();
        }
      } finally {
        agent.close();
      }
    });
  registerServeNfs(serve);
}
