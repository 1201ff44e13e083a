import type { Command } from 'commander';
import { Agent } from '../../core/agent.js';
import { AGENT_ARG, openAgentArg } from '../agent-arg.js';
import { MCP_TOOL_NAMES, selectTools, serveStdio } from '../../mcp/index.js';
import { UserError } from '../errors.js';
import { dieOfSigpipe, onOutputClosed } from '../output.js';
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
    .argument('<ID_OR_PATH>', AGENT_ARG)
    .option('--tools <LIST>', `comma-separated tools to offer (default: all of ${MCP_TOOL_NAMES.join(', ')})`)
    .action(async (idOrPath: string, opts: McpOptions) => {
      // check the arguments before opening anything
      const tools = opts.tools === undefined ? undefined : parseToolList(opts.tools);
      const agent = openAgentArg(idOrPath);
      // a client that stops reading ends the session in the MCP transport (one line, exit 0,
      // the agent closed), not by the CLI's usual death by SIGPIPE
      const restore = onOutputClosed((stream) => {
        if (stream === 'stderr') dieOfSigpipe();
      });
      try {
        // stdout belongs to the protocol: tell the human on stderr
        console.error(
          `agentfs: serving ${agent.store.path} over MCP on stdio (tools: ${(tools ?? MCP_TOOL_NAMES).join(', ')})`,
        );
        await serveStdio(agent, { tools });
      } finally {
        restore();
        agent.close();
      }
    });
  registerServeNfs(serve);
}
