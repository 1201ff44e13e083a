// The C FUSE peers of the bench (issue 16): bindfs (libfuse 3 passthrough) for the mount suite,
// fuse-overlayfs (rootless containers' copy-on-write overlay) for the run suite. One helper mounts
// a peer in the foreground as a child of this process (so it has a pid of ours), waits for the
// mountpoint to appear in /proc/mounts, and unmounts it by its path, killing the pid if it lingers.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const PEERS = {
  // -f: foreground, the daemon is our child; bindfs mirrors src at mnt with nothing remapped
  bindfs: ({ src }, mnt) => ['bindfs', ['-f', '--no-allow-other', src, mnt]],
  'fuse-overlayfs': ({ lower, upper, work }, mnt) => ['fuse-overlayfs', ['-f', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, mnt]],
};

/** The mountpoint column of /proc/mounts decoded (\040 for a space and so on). */
export function isMounted(mnt) {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1]?.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))) === mnt);
}

/** Whether the peer's program is installed (scripts/setup.sh installs both). */
export function havePeer(name) {
  const [cmd] = PEERS[name]({}, '');
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Mounts peer `name` at `mnt`; resolves to a handle whose unmount() is safe to call twice. */
export async function mountPeer(name, opts, mnt) {
  const [cmd, args] = PEERS[name](opts, mnt);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.on('exit', r));
  const handle = {
    pid: child.pid,
    async unmount() {
      if (isMounted(mnt)) spawnSync('fusermount3', ['-u', mnt]);
      if (isMounted(mnt)) spawnSync('fusermount3', ['-u', '-z', mnt]);
      if (child.exitCode === null && child.signalCode === null) {
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(t);
      }
    },
  };
  try {
    for (let i = 0; !isMounted(mnt); i++) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${cmd} exited (${child.exitCode ?? child.signalCode}): ${err.trim()}`);
      if (i > 200) throw new Error(`${cmd}: ${mnt} not mounted after 10 s: ${err.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await handle.unmount();
    throw e;
  }
  return handle;
}
