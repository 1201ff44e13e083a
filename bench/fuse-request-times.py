#!/usr/bin/env python3
"""Kernel-side time of every FUSE request while a command runs, by opcode (root; tracefs).

Usage: python3 bench/fuse-request-times.py CMD [ARG...]

Uses the kernel's fuse:fuse_request_send and fuse:fuse_request_end tracepoints (Linux 6.15+):
each request's time from the moment it is queued to its reply, the same for any FUSE server, so
agentfs and its C peers (bindfs, fuse-overlayfs) compare request by request. Every FUSE
connection active meanwhile is counted; the tracing adds a few microseconds to each request.
"""
import collections, os, re, subprocess, sys, time

T = '/sys/kernel/tracing'


def w(p, v):
    with open(os.path.join(T, p), 'w') as f:
        f.write(v)


if len(sys.argv) < 2:
    sys.exit(__doc__.strip().splitlines()[2])
if not os.path.isdir(os.path.join(T, 'events')):
    subprocess.run(['mount', '-t', 'tracefs', 'nodev', T], check=False)
if not os.path.isdir(os.path.join(T, 'events', 'fuse')):
    sys.exit('fuse-request-times: this kernel has no fuse tracepoints (Linux 6.15 or later, tracefs as root)')
w('trace', '')
w('buffer_size_kb', '65536')
w('events/fuse/enable', '1')
w('tracing_on', '1')
try:
    t = time.perf_counter()
    rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
    elapsed = time.perf_counter() - t
finally:
    w('tracing_on', '0')
    w('events/fuse/enable', '0')
line_re = re.compile(r'\s([\d.]+): fuse_request_(send|end): connection (\d+) req (\d+) (?:opcode \d+ \((\w+)\))?')
sent = {}
stats = collections.defaultdict(lambda: [0, 0.0])
with open(os.path.join(T, 'trace')) as f:
    for line in f:
        m = line_re.search(line)
        if not m:
            continue
        ts, kind, key = float(m.group(1)), m.group(2), (m.group(3), m.group(4))
        if kind == 'send':
            sent[key] = (ts, m.group(5))
        elif key in sent:
            t0, op = sent.pop(key)
            stats[op][0] += 1
            stats[op][1] += ts - t0
print('elapsed %.1f ms (exit %d)' % (elapsed * 1000, rc))
for op, (n, total) in sorted(stats.items(), key=lambda x: -x[1][1]):
    print('  %-20s %7d  mean %8.1f us  total %8.1f ms' % (op, n, total / n * 1e6, total * 1000))
