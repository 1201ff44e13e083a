import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The reply writer's pause in moves after a move stranded it (native/reply_writer.h,
 * next_no_moves), compiled on its own with the system's C++ compiler: short after a stranding
 * alone (the mount's own threads can cause one), doubling while strandings follow each pause (a
 * CPU a real-time process keeps), up to a second, and short again after a quiet second.
 */
const NATIVE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');
const work = mkdtempSync(join(tmpdir(), 'agentfs-reply-writer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PROGRAM = String.raw`
#include "reply_writer.h"
#include <cstdio>

int main() {
  const int64_t ms = 1000000;
  int64_t pause = ReplyWriter::kNoMovesMinNs, end = 0, now = 0;
  std::printf("[");
  // the first stranding ever (no pause before it), then one 10 ms after each pause ends, eight
  // times, then one after a quiet two seconds
  int64_t at[] = {5000 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 2000 * ms};
  for (int i = 0; i < 10; i++) {
    now = (i == 0 ? 0 : end) + at[i];
    pause = ReplyWriter::next_no_moves(pause, now - end);
    end = now + pause;
    std::printf("%s%lld", i ? "," : "", (long long)(pause / ms));
  }
  std::printf("]\n");
}
`;

function pauses(): number[] {
  const src = join(work, 'pauses.cc');
  const bin = join(work, 'pauses');
  writeFileSync(src, PROGRAM);
  execFileSync('g++', ['-std=c++17', '-O2', '-Wall', '-I', NATIVE, '-o', bin, src, '-lpthread']);
  return JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as number[];
}

describe('reply writer: the pause in moves after a stranding', () => {
  it('is 50 ms alone, doubles up to a second while strandings follow the pauses, and is short again after a quiet second', () => {
    expect(pauses()).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 50]);
  });
});
