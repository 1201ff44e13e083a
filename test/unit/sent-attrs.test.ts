import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The addon's table of what the kernel holds of each inode (native/sent_attrs.h), compiled on its
 * own with the system's C++ compiler and driven by a small program: every number put in is found
 * with its type through growth and overlapping runs of numbers, and a listing's neighbouring
 * inode numbers sit side by side in memory (what makes a listing's lookups cheap).
 */
const NATIVE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');
const work = mkdtempSync(join(tmpdir(), 'agentfs-sent-attrs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PROGRAM = String.raw`
#include "sent_attrs.h"
#include <cstdio>
#include <random>
#include <vector>

int main() {
  SentAttrs t(1000000);
  std::vector<uint64_t> in;
  for (uint64_t k = 1; k <= 5000; k++) in.push_back(k);            // a directory's files
  for (uint64_t k = 16385; k <= 19384; k++) in.push_back(k);       // a later run, landing on the first
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; i++) in.push_back(1000000 + rng() % 50000000);  // scattered numbers
  for (uint64_t k : in) t.at(k)->type = (uint32_t)(k % 7 + 1);
  long wrong = 0, absent = 0;
  for (uint64_t k : in) {
    const SentAttrs::Slot* s = t.find(k);
    if (!s) absent++;
    else if (s->ino != k || s->type != (uint32_t)(k % 7 + 1)) wrong++;
  }
  long phantom = 0;
  for (uint64_t k = 5001; k < 16385; k++) if (t.find(k)) phantom++;
  if (t.find(0) || t.at(0)) phantom++;
  // neighbouring numbers of the first run in neighbouring slots
  long adjacent = 0;
  for (uint64_t k = 1; k < 5000; k++) if (t.slot_of(k + 1) == t.slot_of(k) + 1) adjacent++;
  // runs placed to land together (a hostile pass): 500 runs of 16 numbers, a Fibonacci number of
  // runs apart (the hash's multiplier is the golden ratio's), and 329 numbers apart
  long far = 0, farMax = 0, farLost = 0, farScattered = 0;
  for (uint64_t apart : {2584ul * 16, 329ul}) {
    SentAttrs h(1000000);
    std::vector<uint64_t> ks;
    for (uint64_t j = 0; j < 500; j++) for (uint64_t i = 0; i < 16; i++) ks.push_back(16 + j * apart + i);
    for (uint64_t k : ks) h.at(k)->type = 2;
    for (uint64_t k : ks) {
      long p = h.probes(k);
      if (p < 0 || h.find(k)->type != 2) farLost++;
      far += p;
      if (p > farMax) farMax = p;
    }
    farScattered += h.scattered();
  }
  // past its maximum the table starts again, keeping the newest
  SentAttrs small(100);
  for (uint64_t k = 1; k <= 150; k++) small.at(k * 1000)->type = 1;
  std::printf("{\"count\":%zu,\"wrong\":%ld,\"absent\":%ld,\"phantom\":%ld,\"adjacent\":%ld,\"denseScattered\":%d,"
              "\"farAverage\":%.2f,\"farMax\":%ld,\"farLost\":%ld,\"farScattered\":%ld,\"smallSize\":%zu,\"smallNewest\":%d,\"smallOldest\":%d}\n",
              t.size(), wrong, absent, phantom, adjacent, t.scattered(), far / 16000.0, farMax, farLost, farScattered, small.size(),
              small.find(150000) != nullptr, small.find(1000) != nullptr);
}
`;

function run(): Record<string, number> {
  const src = join(work, 'sent-attrs.cc');
  const bin = join(work, 'sent-attrs');
  writeFileSync(src, PROGRAM);
  execFileSync('g++', ['-std=c++17', '-O2', '-Wall', '-I', NATIVE, '-o', bin, src]);
  return JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as Record<string, number>;
}

describe('the addon table of attributes sent (sent_attrs.h)', () => {
  const r = run();

  it('finds every inode number put in, with its type, and none that was not', () => {
    expect(r.count).toBeGreaterThan(27000);
    expect(r.wrong).toBe(0);
    expect(r.absent).toBe(0);
    expect(r.phantom).toBe(0);
  });

  it('keeps neighbouring inode numbers in neighbouring slots (a listing reads it in stretches)', () => {
    // runs of 16: 15 of every 16 pairs side by side, less where runs meet; scattered hashing: ~0
    expect(r.adjacent).toBeGreaterThan(4000);
  });

  it('keeps lookups short when runs of numbers are placed to land together (it hashes each number on its own then)', () => {
    // with runs only: thousands of probes a lookup for the first pattern, hundreds for the second
    expect(r.farLost).toBe(0);
    expect(r.farAverage).toBeLessThan(4);
    expect(r.farMax).toBeLessThan(64);
    expect(r.farScattered).toBe(2);
    // a directory's consecutive numbers and a later run keep the runs
    expect(r.denseScattered).toBe(0);
  });

  it('starts again past its maximum, keeping the newest', () => {
    expect(r.smallSize).toBeLessThanOrEqual(100);
    expect(r.smallNewest).toBe(1);
    expect(r.smallOldest).toBe(0);
  });
});
