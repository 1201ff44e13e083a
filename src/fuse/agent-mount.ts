/**
 * Mounting an agent: open its database through Agent.open, clear a stale mount left on the
 * mountpoint by a dead server, and serve the agent's filesystem there.
 */
import { AgentfsError, type ErrorCode } from '../errors.js';
import { statSync } from 'node:fs';
import { Agent } from '../core/agent.js';
import { freeBytes } from '../core/fs/index.js';
import type { AgentTarget } from '../store/index.js';
import { DEFAULT_TIMEOUTS, FuseServer, type FuseMountOptions } from './server.js';
import { recoverStale, readRecord } from './mounts.js';
import { ROOM_ENOUGH, type GroupCommit } from './group-commit.js';
import { checkpointInBackground, type WalCheckpoints } from '../platform/wal-checkpoints.js';

export interface AgentMount {
  agent: Agent;
  server: FuseServer;
}

/** A mountpoint that cannot take the mount (missing, not a directory, mounted already). */
export class MountError extends AgentfsError {
  constructor(message: string, code: ErrorCode = 'usage') {
    super(code, message);
    this.name = 'MountError';
  }
}

/** Checks that mountpoint can take a new mount (recovering a stale one); throws MountError. */
export async function prepareMountpoint(mountpoint: string): Promise<void> {
  const found = await recoverStale(mountpoint);
  if (found === 'live') {
    const rec = readRecord(mountpoint);
    throw new MountError(`${mountpoint} is already an agentfs mount${rec ? ` of ${rec.database} (pid ${rec.pid})` : ''}`, 'busy');
  }
  let st;
  try {
    st = statSync(mountpoint);
  } catch (e) {
    throw new MountError(`mountpoint ${mountpoint}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
  }
  if (!st.isDirectory()) throw new MountError(`mountpoint ${mountpoint} is not a directory`);
}

const DEFAULT_UNLINK_BATCH = 16;
/** more gains nothing (~4.5 µs a row from 16 on) and makes the statement's text long */
const MAX_UNLINK_BATCH = 64;

export async function mountAgent(
  target: AgentTarget,
  mountpoint: string,
  options: Omit<FuseMountOptions, 'groupCommit' | 'changeCounter'> & { journal?: boolean; beforeMount?: () => void } = {},
): Promise<AgentMount> {
  await prepareMountpoint(mountpoint);
  const { journal, beforeMount, ...fuseOptions } = options;
  // journal undefined: the agent's own setting (init --no-journal) decides
  const agent = Agent.open(target, journal === undefined ? {} : { journal });
  try {
    // the kernel's open files are ours to keep: another process's unlink must not purge them
    agent.holdOpenFiles();
    agent.answerUnlinksFirst(unlinkBatchFromEnv());
    const checkpoints = checkpointInBackground(agent.store, (e) => fuseOptions.onError?.(e, -1));
    beforeMount?.(); // the agent is open: the kernel mount comes next
    const server = await FuseServer.mount(agent.fs, mountpoint, {
      // an overlay's base can change unseen: its listings are reused no longer than attributes
      cacheReaddir: agent.base === undefined ? true : (options.timeouts?.attr ?? DEFAULT_TIMEOUTS.attr),
      ...fuseOptions,
      groupCommit: groupCommitOf(agent, checkpoints),
      groupCommitMs: fuseOptions.groupCommitMs ?? groupCommitMsFromEnv(),
      changeCounter: outsideChanges(agent),
    });
    return { agent, server };
  } catch (e) {
    agent.close();
    throw e;
  }
}

/** The group commit of a mount of agent (FuseMountOptions.groupCommit) on its store. */
export function groupCommitOf(agent: Agent, checkpoints: WalCheckpoints | undefined): GroupCommit {
  const store = agent.store;
  return {
    begin: () => store.beginBatch(),
    commit: () => store.commitBatch(),
    room: () => freeBytes(store, ROOM_ENOUGH),
    lowSpace: (on) => checkpoints?.lowSpace(on),
  };
}

/**
 * The mount's change counter (FuseMountOptions.changeCounter): the database's data_version,
 * which other processes' commits move. What another process unlinked and the kernel does not
 * hold open here is freed when it moves, or at the poll after its last release here (the server
 * counts the addon's opens before each poll); a busy database is tried again at the next poll.
 * The agent must hold its open files (Agent.holdOpenFiles).
 */
export function outsideChanges(agent: Agent): () => number {
  let lastVersion = agent.store.dataVersion();
  return () => {
    const v = agent.store.dataVersion();
    if (v !== lastVersion || agent.handedPurgeDue) {
      agent.purgeHandedOrphans();
      lastVersion = v;
    }
    return v;
  };
}

/**
 * AGENTFS_FUSE_UNLINK_BATCH: how many unlinks answered first may wait to be written together
 * (core/fs/ops/unlink-later.ts; default 16, 0 or 1: each written before its answer, as before).
 */
export function unlinkBatchFromEnv(): number {
  const raw = process.env.AGENTFS_FUSE_UNLINK_BATCH;
  const v = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isInteger(v) && v >= 0 ? Math.min(v, MAX_UNLINK_BATCH) : DEFAULT_UNLINK_BATCH;
}

/** AGENTFS_GROUP_COMMIT_MS: how long a group commit stays open (diagnosis and tests; default 10). */
export function groupCommitMsFromEnv(): number | undefined {
  const v = Number(process.env.AGENTFS_GROUP_COMMIT_MS);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}
