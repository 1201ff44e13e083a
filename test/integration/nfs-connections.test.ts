import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../support/cli.js';
import { serveAgentNfs, type AgentNfs } from '../../src/nfs/index.js';
import { Agent } from '../../src/core/agent.js';
// @ts-expect-error plain JS test support (shared with the bench)
import { NfsClient } from '../support/nfs-client.mjs';

/** Connection lifetimes, seen from inside the server process. */
let tmp: { dir: string; cleanup: () => void };
let nfs: AgentNfs;

beforeAll(async () => {
  tmp = tempDir('agentfs-nfs-conn-');
  const db = join(tmp.dir, 'c.db');
  Agent.open({ path: db }, { create: true }).close();
  nfs = await serveAgentNfs({ path: db }, { port: 0 });
});

afterAll(async () => {
  await nfs?.close();
  tmp.cleanup();
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('connections', () => {
  it('a client that leaves in the middle of a large record is forgotten with what it sent', async () => {
    const before = nfs.server.connections;
    for (let i = 0; i < 20; i++) {
      const s = connect({ port: nfs.server.port, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      const mark = Buffer.alloc(4);
      mark.writeUInt32BE((0x80000000 | (1 << 20)) >>> 0);
      s.write(Buffer.concat([mark, Buffer.alloc(512 << 10, i)]));
      await new Promise((r) => setTimeout(r, 5));
      s.destroy();
    }
    await until(() => nfs.server.connections === before);
    expect(nfs.server.connections).toBe(before);
    // and the server still serves
    const c = await NfsClient.connect(nfs.server.port);
    expect(await c.null()).toBe(true);
    expect(nfs.server.connections).toBe(before + 1);
    c.close();
    await until(() => nfs.server.connections === before);
    expect(nfs.server.connections).toBe(before);
  });
});
