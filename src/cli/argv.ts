/**
 * Accept the id-first order other AgentFS docs use (`agentfs fs ID ls PATH`) as well as the
 * reference order (`agentfs fs ls ID PATH`): rewrite the former into the latter.
 */
const FS_SUBCOMMANDS = new Set(['ls', 'cat', 'write', 'mkdir', 'rm', 'mv', 'stat', 'tree', 'cp', 'ln', 'chmod', 'touch', 'help']);

export function normalizeArgv(argv: string[]): string[] {
  const out = [...argv];
  const i = out.indexOf('fs', 2);
  // only when `fs` is the command word (first non-option argument)
  const first = out.slice(2).findIndex((a) => !a.startsWith('-'));
  if (i < 0 || first < 0 || i !== first + 2) return out;
  const a = out[i + 1];
  const b = out[i + 2];
  if (a !== undefined && b !== undefined && !FS_SUBCOMMANDS.has(a) && !a.startsWith('-') && FS_SUBCOMMANDS.has(b)) {
    out[i + 1] = b;
    out[i + 2] = a;
  }
  return out;
}
