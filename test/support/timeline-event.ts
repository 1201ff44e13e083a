/** One line of `agentfs timeline --format json` (tool calls and journal entries), as tests read it. */
export interface TimelineEvent {
  type?: string;
  id: number;
  name?: string;
  status?: string;
  op?: string;
  path?: string;
  new_path?: string;
  tool_call_id?: number;
  time_ns?: number;
  parameters?: { argv?: string[]; cwd?: string };
  result?: { exit_code?: number; signal?: string | null; duration_ms?: number };
  error?: string;
}
