#!/usr/bin/env python3
"""Where a FUSE client's system calls spend their time, call by call (root; tracefs).

Usage: python3 bench/client-wakeups.py [--syscall NAME] CMD [ARG...]

Runs CMD and splits every NAME call it makes (default unlinkat) into: the FUSE requests it sent
(queued to answered, the server's share), waking (answered to the client put on a CPU's run
queue: on a VM whose idle CPUs halt, a wake-up of a halted CPU costs ~20 us), to CPU (run queue
to running) and the rest (the kernel's own work and the client's). Medians and sums, and the task
each wake-up found on the client's CPU (swapper: the CPU was idle; the server's thread: the two
share a CPU, as bindfs and its client often do). Every FUSE connection active meanwhile counts.
"""
import collections, os, re, statistics, subprocess, sys

T = '/sys/kernel/tracing'
EVENT_LINE = re.compile(r'\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (.*)')


def w(p, v):
    with open(os.path.join(T, p), 'w') as f:
        f.write(v)


args = sys.argv[1:]
call = 'unlinkat'
if args[:1] == ['--syscall'] and len(args) > 1:
    call, args = args[1], args[2:]
if not args:
    sys.exit(__doc__.strip().splitlines()[2])
if not os.path.isdir(os.path.join(T, 'events')):
    subprocess.run(['mount', '-t', 'tracefs', 'nodev', T], check=False)
events = [f'syscalls/sys_enter_{call}', f'syscalls/sys_exit_{call}', 'fuse/fuse_request_send', 'fuse/fuse_request_end',
          'sched/sched_wakeup', 'sched/sched_switch']
for e in events:
    if not os.path.isdir(os.path.join(T, 'events', e)):
        sys.exit(f'client-wakeups: this kernel has no {e} tracepoint (fuse: Linux 6.15 or later; syscalls: CONFIG_FTRACE_SYSCALLS)')
w('trace', '')
w('buffer_size_kb', '131072')
for e in events:
    w(f'events/{e}/enable', '1')
w('tracing_on', '1')
try:
    rc = subprocess.run(args, stdout=subprocess.DEVNULL).returncode
finally:
    w('tracing_on', '0')
    for e in events:
        w(f'events/{e}/enable', '0')

enter_re = re.compile(rf'sys_{call}\(')
exit_re = re.compile(rf'sys_{call} -> ')
req_re = re.compile(r'fuse_request_(send|end): connection (\d+) req (\d+)')
parts = collections.defaultdict(list)
found_on = collections.Counter()
cur = None  # the open call: its start, the client's pid, requests in flight, the phases so far
with open(os.path.join(T, 'trace')) as trace:
    for line in trace:
        m = EVENT_LINE.match(line)
        if not m:
            continue
        comm, pid, _cpu, ts, rest = m.groups()
        t = float(ts) * 1e6
        if enter_re.match(rest):
            cur = {'pid': pid, 'start': t, 'sent': {}, 'requests': 0.0, 'waking': 0.0, 'to cpu': 0.0, 'ended': None, 'woke': None}
            continue
        if cur is None:
            continue
        r = req_re.search(rest)
        if r:
            key = (r.group(2), r.group(3))
            if r.group(1) == 'send' and pid == cur['pid']:
                cur['sent'][key] = t
            elif r.group(1) == 'end' and key in cur['sent']:
                cur['requests'] += t - cur['sent'].pop(key)
                cur['ended'] = t
        elif rest.startswith('sched_wakeup:') and f' pid={cur["pid"]} ' in rest and cur['ended'] is not None:
            cur['waking'] += t - cur['ended']
            cur['ended'] = None
            cur['woke'] = t
        elif rest.startswith('sched_switch:') and f'next_pid={cur["pid"]} ' in rest and cur['woke'] is not None:
            cur['to cpu'] += t - cur['woke']
            cur['woke'] = None
            found_on[re.search(r'prev_comm=(.+?) prev_pid', rest).group(1)] += 1
        elif exit_re.match(rest) and pid == cur['pid']:
            total = t - cur['start']
            for k in ('requests', 'waking', 'to cpu'):
                parts[k].append(cur[k])
            parts['rest'].append(total - cur['requests'] - cur['waking'] - cur['to cpu'])
            parts['total'].append(total)
            cur = None

print(f'{call}: {len(parts["total"])} calls (exit {rc})')
for k in ('requests', 'waking', 'to cpu', 'rest', 'total'):
    v = parts[k]
    if v:
        print(f'  {k:9} median {statistics.median(v):7.1f} us  mean {statistics.mean(v):7.1f} us  sum {sum(v) / 1000:8.1f} ms')
print('  wake-ups found on the client\'s CPU:', ', '.join(f'{n} {c}' for n, c in found_on.most_common(5)))
