import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The trial that decides whether a way of serving pays (native/trial.h: the reply writer, a
 * burst's hand-offs), compiled on its own with the system's C++ compiler and driven by made-up
 * event times: with the reply writer as the way on trial, a reply comes `on` µs after the last
 * one while the writer takes them, `off` µs while it does not.
 */
const NATIVE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');
const work = mkdtempSync(join(tmpdir(), 'agentfs-trial-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PROGRAM = String.raw`
#include "trial.h"
#include <cstdio>
#include <cstdlib>

// argv: µs between replies with the writer, without it, every how many replies a pause of
// pause_us comes, for how many seconds of replies to go on, and (optional) every how many replies
// with the writer a reply's time steps back by two intervals (threads racing for the trial's lock),
// and (optional) after how many seconds the machine changes: the two intervals swap; then, for a
// caller that says when its stream rests (a burst's hand-offs): the longest interval counted in
// ms (0: the default), every how many events with the way it stalls for how many µs, and
// whether each pause is announced (rest); and µs between replies in every second turn with the
// writer (0: the same), so that the pairs disagree
int main(int argc, char** argv) {
  const int64_t us = 1000;
  int64_t on = (int64_t)(atof(argv[1]) * us), off = (int64_t)(atof(argv[2]) * us);
  long every = atol(argv[3]);
  int64_t pause = atoll(argv[4]) * us, end = atoll(argv[5]) * 1000000000LL;
  long back = argc > 6 ? atol(argv[6]) : 0;
  double swap_s = argc > 7 ? atof(argv[7]) : 0;
  int64_t swap_at = swap_s > 0 ? (int64_t)(swap_s * 1e9) + 1000000000LL : 0;
  double busy_ms = argc > 8 ? atof(argv[8]) : 0;
  long stall_every = argc > 9 ? atol(argv[9]) : 0;
  int64_t stall = argc > 10 ? atoll(argv[10]) * us : 0;
  bool rest = argc > 11 && atoi(argv[11]) != 0;
  int64_t on2 = argc > 12 && atof(argv[12]) > 0 ? (int64_t)(atof(argv[12]) * us) : on;
  long turns_on = 0;
  bool was = false;
  Trial t = busy_ms > 0 ? Trial((int64_t)(busy_ms * 1e6)) : Trial();
  int64_t now = 1000000000LL;
  long replies = 0, offered = 0, first_verdict_at = -1, with_way = 0;
  while (now < end) {
    if (swap_at && now >= swap_at) {
      int64_t x = on;
      on = off;
      off = x;
      swap_at = 0;
    }
    bool w = t.offer(now);
    if (w && !was) turns_on++;
    was = w;
    replies++;
    if (w) offered++;
    if (first_verdict_at < 0 && t.counts().trials > 0) first_verdict_at = replies;
    now += w ? (turns_on % 2 == 0 ? on2 : on) : off;
    if (w && stall_every > 0 && ++with_way % stall_every == 0) now += stall;
    if (every > 0 && replies % every == 0) {
      if (rest) t.rest();
      now += pause;
    }
    if (w && back > 0 && replies % back == 0) now -= 2 * on;
  }
  Trial::Counts c = t.counts();
  std::printf("{\"trials\":%llu,\"keptOn\":%llu,\"firstVerdictAt\":%ld,\"offeredShare\":%.3f}\n",
              (unsigned long long)c.trials, (unsigned long long)c.kept_on, first_verdict_at, (double)offered / replies);
}
`;

interface Outcome {
  trials: number;
  keptOn: number;
  firstVerdictAt: number;
  offeredShare: number;
}

let bin = '';
/** A caller that says when its stream rests: its bound on intervals, the way's stalls, whether pauses are announced. */
interface Rests {
  busyMs: number;
  stallEvery?: number;
  stallUs?: number;
  rest?: boolean;
  /** µs between replies with the writer in its second, fourth and sixth turns */
  on2?: number;
}

function trial(on: number, off: number, every: number, pauseUs: number, seconds: number, back = 0, swapAt = 0, r?: Rests): Outcome {
  if (!bin) {
    const src = join(work, 'trial.cc');
    bin = join(work, 'trial');
    writeFileSync(src, PROGRAM);
    execFileSync('g++', ['-std=c++17', '-O2', '-Wall', '-I', NATIVE, '-o', bin, src, '-lpthread']);
  }
  return JSON.parse(execFileSync(bin, [on, off, every, pauseUs, seconds, back, swapAt, r?.busyMs ?? 0, r?.stallEvery ?? 0, r?.stallUs ?? 0, r?.rest ? 1 : 0, r?.on2 ?? 0].map(String), { encoding: 'utf8' })) as Outcome;
}

describe('the trial of whether a way of serving pays (the reply writer as the way)', () => {
  it('keeps the writer where replies come faster with it, after 12 turns of 150 busy intervals', () => {
    const r = trial(30, 40, 0, 0, 2);
    expect(r).toMatchObject({ trials: 1, keptOn: 1 });
    // each turn leaves out its first 2 ms: 67 replies at 30 µs, 50 at 40
    expect(r.firstVerdictAt).toBeGreaterThan(12 * 150);
    expect(r.firstVerdictAt).toBeLessThan(12 * 150 + 6 * 68 + 6 * 51 + 2);
    // the verdict holds: almost every reply after the trial goes to it
    expect(r.offeredShare).toBeGreaterThan(0.95);
  });

  it('keeps it only where at least four of the six pairs say so, not on the median alone', () => {
    // three pairs twice as fast with it, three the same: the median (0.75) said keep
    expect(trial(20, 40, 0, 0, 2, 0, 0, { busyMs: 0, on2: 40 })).toMatchObject({ trials: 1, keptOn: 0 });
    // three pairs twice as fast, three 5% faster: four and more for it
    expect(trial(20, 40, 0, 0, 2, 0, 0, { busyMs: 0, on2: 38 })).toMatchObject({ trials: 1, keptOn: 1 });
  });

  it('turns it off where replies come slower with it, and when it gains less than 3%', () => {
    expect(trial(40, 30, 0, 0, 2)).toMatchObject({ trials: 1, keptOn: 0 });
    expect(trial(30, 30.5, 0, 0, 2)).toMatchObject({ trials: 1, keptOn: 0 });
    const off = trial(40, 30, 0, 0, 2);
    expect(off.offeredShare).toBeLessThan(0.05);
  });

  it('tries again 10 s later, and twice as late each time the verdict stands, up to 160 s', () => {
    // trials at 0, 10, 30 s
    expect(trial(30, 40, 0, 0, 35)).toMatchObject({ trials: 3, keptOn: 3 });
    // then 70, 150, 310 s (holds of 10, 20, 40, 80, 160, 160 s)
    expect(trial(30, 40, 0, 0, 400)).toMatchObject({ trials: 6, keptOn: 6 });
    expect(trial(40, 30, 0, 0, 400)).toMatchObject({ trials: 6, keptOn: 0 });
  });

  it('follows the machine: a verdict that flips holds 10 s again, and each trial starts the way last chosen', () => {
    // kept at 0, 10 and 30 s; the machine changes at 50 s; off at 70 s (held 10 s), off again at 80 (20 s), 100
    const r = trial(30, 40, 0, 0, 115, 0, 50);
    expect(r).toMatchObject({ trials: 6, keptOn: 3 });
    // a trial after an off verdict starts with its turn without: in a burst shorter than a turn
    // nothing goes the other way (the first trial, with none before it, starts with it)
    const short = trial(40, 30, 0, 0, 40);
    expect(short.trials).toBe(3);
    expect(short.offeredShare).toBeLessThan(0.02);
  });

  it('leaves out a reply timed before the last one counted (threads racing for its lock)', () => {
    // before: the negative gaps went into the sums, the turns with the writer averaged ~0 and it
    // was kept although replies came slower with it
    expect(trial(40, 30, 0, 0, 2, 3)).toMatchObject({ trials: 1, keptOn: 0 });
  });

  it("makes a way pay for its stalls where the caller says when its stream rests (a burst's hand-offs)", () => {
    // faster between stalls, but a 3 ms stall every 50 events: 90 µs an event against 40
    const stalls = { stallEvery: 50, stallUs: 3000 };
    // counted up to 1 ms, the stalls went uncounted and the way was kept (trials kept handing a
    // burst on where serving in turn was 10-35% faster)
    expect(trial(30, 40, 0, 0, 2, 0, 0, { busyMs: 0, ...stalls })).toMatchObject({ trials: 1, keptOn: 1 });
    expect(trial(30, 40, 0, 0, 2, 0, 0, { busyMs: 10, ...stalls })).toMatchObject({ trials: 1, keptOn: 0 });
    // the pauses it announces are not counted: 8 ms every 20 events would hide the way's 25%
    expect(trial(30, 40, 20, 8000, 3, 0, 0, { busyMs: 10, rest: true })).toMatchObject({ trials: 1, keptOn: 1 });
    expect(trial(30, 40, 20, 8000, 3, 0, 0, { busyMs: 10 })).toMatchObject({ trials: 1, keptOn: 0 });
  });

  it('counts only intervals of a busy stream: replies 2 ms apart never end a turn', () => {
    expect(trial(2000, 2000, 0, 0, 5)).toMatchObject({ trials: 0 });
    // a pause after every 100 replies leaves the rest of each turn to be counted
    expect(trial(30, 40, 100, 5000, 3)).toMatchObject({ trials: 1, keptOn: 1 });
  });
});
