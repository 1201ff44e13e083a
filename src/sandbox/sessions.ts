import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, closeSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { userHome } from '../core/home.js';
import { agentfsMountAt } from '../fuse/mounts.js';
import { isAlive } from '../core/process-alive.js';
import { AgentfsError } from '../errors.js';

/**
 * The run registry: plain files under $AGENTFS_HOME (default ~/.agentfs), written atomically.
 *   sessions/<id>.json            the session: database, base directory, creation time
 *   sessions/<id>.server.json     the live overlay mount of the session (pid, mountpoint)
 *   sessions/<id>.runs/<pid>.json one live `run` (command, cwd, start time)
 * Liveness is checked with kill(pid, 0); records of dead processes are ignored and swept.
 */
export function agentfsHome(): string {
  const home = process.env.AGENTFS_HOME;
  if (!home) return join(userHome(), '.agentfs');
  // relative, it would name another directory from every working directory (and one inside the base)
  if (!isAbsolute(home)) throw new AgentfsError('usage', `AGENTFS_HOME must be an absolute path (it is '${home}')`);
  return home;
}

export function sessionsDir(): string {
  return join(agentfsHome(), 'sessions');
}

export interface SessionRecord {
  id: string;
  database: string;
  base: string;
  createdAt: string;
}

export interface ServerRecord {
  pid: number;
  mountpoint: string;
  startedAt: string;
}

export interface RunRecord {
  pid: number;
  session: string;
  command: string[];
  cwd: string;
  startedAt: string;
}

function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function saveSession(rec: SessionRecord): void {
  mkdirSync(sessionsDir(), { recursive: true, mode: 0o700 });
  writeJson(join(sessionsDir(), `${rec.id}.json`), rec);
}

/** Removes a session made by a run that then failed to start (its record and database). */
export function removeSession(rec: SessionRecord): void {
  for (const f of [rec.database, `${rec.database}-wal`, `${rec.database}-shm`, join(sessionsDir(), `${rec.id}.json`)]) rmSync(f, { force: true });
}

/**
 * A session record as read, or undefined when the file is missing or damaged (not JSON, or
 * fields of the wrong kind: hand-edited, truncated): every reader then goes on without it
 * rather than failing on a missing field.
 */
function readSession(file: string): SessionRecord | undefined {
  const r = readJson<Partial<SessionRecord>>(file);
  if (!r || typeof r !== 'object') return undefined;
  const text = (v: unknown) => typeof v === 'string' && v.length > 0;
  return text(r.id) && text(r.database) && text(r.base) && typeof r.createdAt === 'string' ? (r as SessionRecord) : undefined;
}

export function loadSession(id: string): SessionRecord | undefined {
  return readSession(join(sessionsDir(), `${id}.json`));
}

export function listSessions(): SessionRecord[] {
  if (!existsSync(sessionsDir())) return [];
  return readdirSync(sessionsDir())
    .filter((f) => f.endsWith('.json') && !f.endsWith('.server.json'))
    .map((f) => readSession(join(sessionsDir(), f)))
    .filter((r): r is SessionRecord => r !== undefined);
}

function serverFile(id: string): string {
  return join(sessionsDir(), `${id}.server.json`);
}

/** The live mount of a session: its server process is there and its mount too (pids get reused). */
export function liveServer(id: string): ServerRecord | undefined {
  const rec = readJson<ServerRecord>(serverFile(id));
  return rec && isAlive(rec.pid) && agentfsMountAt(rec.mountpoint) !== undefined ? rec : undefined;
}

/**
 * Becomes the session's server: true when this process now owns the server record (no live
 * one existed). Exclusive creation decides between two runs starting at once.
 */
export function claimServer(id: string, rec: ServerRecord): boolean {
  mkdirSync(sessionsDir(), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(serverFile(id), 'wx');
      writeSync(fd, JSON.stringify(rec));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const cur = readJson<ServerRecord>(serverFile(id));
      // a server still starting has no mount yet: only a dead one is taken over
      if (cur && isAlive(cur.pid)) return false;
      rmSync(serverFile(id), { force: true }); // stale: its server died
    }
  }
  return false;
}

export function releaseServer(id: string): void {
  const cur = readJson<ServerRecord>(serverFile(id));
  if (cur && cur.pid === process.pid) rmSync(serverFile(id), { force: true });
}

function runsDir(id: string): string {
  return join(sessionsDir(), `${id}.runs`);
}

export function addRun(rec: RunRecord): void {
  mkdirSync(runsDir(rec.session), { recursive: true, mode: 0o700 });
  writeJson(join(runsDir(rec.session), `${rec.pid}.json`), rec);
}

export function removeRun(id: string, pid = process.pid): void {
  rmSync(join(runsDir(id), `${pid}.json`), { force: true });
}

/** Live runs of a session (records of dead processes are swept). */
export function liveRuns(id: string): RunRecord[] {
  const dir = runsDir(id);
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    const rec = readJson<RunRecord>(join(dir, f));
    if (rec && isAlive(rec.pid)) out.push(rec);
    else rmSync(join(dir, f), { force: true });
  }
  return out;
}
