// What the machine under a bench run is, and (BENCH_IDLE=poll) keeping its idle CPUs polling.
//
// A FUSE request wakes the server and its reply wakes the client: on a VM whose idle vCPUs halt
// at once (the `haltpoll` cpuidle driver with guest_halt_poll_ns 0), each wake-up costs ~20 µs,
// and every FUSE server pays it, the C peers more than ours; on a VM whose vCPUs poll, or on bare
// metal, it costs ~1 µs. The ratios against bindfs and fuse-overlayfs move by 2-3x between the
// two, so a run prints which it had. BENCH_IDLE=poll holds a PM QoS request of 0 µs latency
// (/dev/cpu_dma_latency, root) for the whole run: cpuidle then picks its polling state, and a
// halting VM measures as a polling one would (the request ends when this process closes it).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { cpus, release } from 'node:os';

function read(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The machine's facts that move FUSE ratios: CPUs, kernel, the idle driver and its polling. */
export function describeMachine(idle) {
  const cpuidle = '/sys/devices/system/cpu/cpuidle';
  return {
    cpus: cpus().length,
    kernel: release(),
    cpuidleDriver: read(`${cpuidle}/current_driver`) ?? 'none',
    cpuidleGovernor: read(`${cpuidle}/current_governor_ro`) ?? read(`${cpuidle}/current_governor`),
    guestHaltPollNs: read('/sys/module/haltpoll/parameters/guest_halt_poll_ns'),
    idle,
  };
}

/** One line for the top of a run. */
export function machineLine(m) {
  const poll = m.guestHaltPollNs === undefined ? '' : `, guest_halt_poll_ns ${m.guestHaltPollNs}`;
  const idle = m.idle === 'poll' ? 'idle CPUs held polling (BENCH_IDLE=poll)' : 'idle CPUs as the machine has them';
  return `machine: ${m.cpus} CPUs, Linux ${m.kernel}, cpuidle ${m.cpuidleDriver}${m.cpuidleGovernor ? `/${m.cpuidleGovernor}` : ''}${poll}; ${idle}`;
}

/**
 * Applies BENCH_IDLE: '' or 'native' leaves the machine as it is; 'poll' holds idle CPUs polling
 * until the returned release is called (or the process ends). Throws with a one-line reason when
 * the value is unknown or the request cannot be made.
 */
export function holdIdle(value = '') {
  if (value === '' || value === 'native') return { idle: 'native', release: () => {} };
  if (value !== 'poll') throw new Error(`BENCH_IDLE must be 'poll' or 'native', not '${value}'`);
  let fd;
  try {
    fd = openSync('/dev/cpu_dma_latency', 'w');
    const zero = Buffer.alloc(4); // a 32-bit latency in µs, 0: no idle state that takes time to leave
    writeSync(fd, zero);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw new Error(`BENCH_IDLE=poll: cannot hold /dev/cpu_dma_latency at 0 (${e.code ?? e.message}; needs root)`);
  }
  return { idle: 'poll', release: () => closeSync(fd) };
}
