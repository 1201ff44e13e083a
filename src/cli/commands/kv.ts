import { isUtf8 } from 'node:buffer';
import type { Command } from 'commander';
import type { Agent } from '../../core/agent.js';
import { AGENT_ARG, openAgentArg } from '../agent-arg.js';
import { UserError } from '../errors.js';
import { jsonForHuman, quoteName } from '../quote.js';
import { checkJsonText } from '../../core/kv/index.js';

/** kv get and list only look: no write lock, so a busy writer does not make them wait or fail */
const READ_ONLY = { readOnly: true };

interface JsonOpt {
  json?: boolean;
}

/** Runs fn on the agent's kv store and closes the agent whatever happens. */
function withAgent<T>(idArg: string, fn: (agent: Agent) => T, access: { readOnly?: boolean } = {}): T {
  const agent = openAgentArg(idArg, { ...access, journal: false });
  try {
    return fn(agent);
  } finally {
    agent.close();
  }
}

/**
 * VALUE as JSON when it parses as JSON, else the string as it is (so `hello` needs no quotes).
 * JSON whose numbers would not read back as written (1e999, 30 digits, -0) is refused, not
 * changed.
 */
export function parseKvValue(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  checkJsonText(text);
  return value;
}

/** A string as it is (the value is the user's data, like `fs cat`), anything else as JSON. */
function show(value: unknown, json: boolean | undefined): string {
  return typeof value === 'string' && !json ? value : jsonForHuman(value);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  // decoding would turn the bytes into U+FFFD and store something else than was given
  if (!isUtf8(bytes)) {
    throw new UserError('EILSEQ: the value on stdin is not valid UTF-8 (kv values are text: keep binary data in a file with `agentfs fs write`, or encode it, e.g. base64)');
  }
  return bytes.toString('utf8').replace(/\r?\n$/, '');
}

export function registerKv(program: Command): void {
  const kv = program.command('kv').description("Read and change an agent's key-value store (values are JSON)");

  kv.command('get')
    .description('Print the value of KEY (strings as they are, anything else as JSON)')
    .argument('<ID>', AGENT_ARG)
    .argument('<KEY>', 'key')
    .option('--json', 'print strings as JSON too')
    .action((id: string, key: string, opts: JsonOpt) => {
      const out = withAgent(id, (a) => (a.kv.has(key) ? { value: a.kv.get(key) } : undefined), READ_ONLY);
      if (!out) throw new UserError(`no such key: ${key}`, 'not-found');
      console.log(show(out.value, opts.json));
    });

  kv.command('set')
    .description('Set KEY to VALUE (parsed as JSON when it is valid JSON, else stored as a string; read from stdin when omitted)')
    .argument('<ID>', AGENT_ARG)
    .argument('<KEY>', 'key')
    .argument('[VALUE]', 'value')
    .option('--string', 'store VALUE as a string even when it is valid JSON')
    .action(async (id: string, key: string, valueArg: string | undefined, opts: { string?: boolean }) => {
      const text = valueArg ?? (process.stdin.isTTY ? undefined : await readStdin());
      if (text === undefined) throw new UserError('kv set needs a VALUE (or the value on stdin)');
      const value = opts.string ? text : parseKvValue(text);
      withAgent(id, (a) => {
        // as the fs commands: stop 8 MiB before the disk is full, so that deleting still works
        a.paths.checkRoom('kv set', key, Buffer.byteLength(text));
        a.kv.set(key, value);
      });
    });

  kv.command('delete')
    .alias('rm')
    .description('Remove KEY')
    .argument('<ID>', AGENT_ARG)
    .argument('<KEY>', 'key')
    .option('-f, --force', 'no error when KEY does not exist')
    .action((id: string, key: string, opts: { force?: boolean }) => {
      const existed = withAgent(id, (a) => a.kv.delete(key));
      if (!existed && !opts.force) throw new UserError(`no such key: ${key}`, 'not-found');
    });

  kv.command('list')
    .alias('ls')
    .description('List keys (starting with PREFIX) and their values, in key order')
    .argument('<ID>', AGENT_ARG)
    .argument('[PREFIX]', 'only keys starting with PREFIX', '')
    .option('--json', 'print a JSON array of {key, value, created_at, updated_at}')
    .option('--keys', 'print only the keys')
    .action((id: string, prefix: string, opts: JsonOpt & { keys?: boolean }) => {
      if (opts.json && opts.keys) throw new UserError('--json and --keys exclude each other');
      const entries = withAgent(id, (a) => a.kv.list(prefix), READ_ONLY);
      if (opts.json) {
        console.log(JSON.stringify(entries, null, 2));
        return;
      }
      const lines = entries.map((e) => (opts.keys ? quoteName(e.key) : `${quoteName(e.key)}\t${jsonForHuman(e.value)}`));
      if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
    });
}
