#!/usr/bin/env python3
"""Small measuring helpers for bench/run.sh (standard library only).

  util.py cpu PID              CPU seconds (user+sys) of PID, its reaped children and all live descendants
  util.py measure OUT -- CMD.. runs CMD (via its argv), writes "wall_s cpu_s maxrss_kb rc" to OUT, exits with CMD's rc
  util.py gcpeak FILE [SKIP]   peak heap used (MiB) from a -Xlog:gc file, ignoring its first SKIP lines
  util.py lines FILE           number of lines in FILE (0 when missing)
  util.py pct P FILE [COL]     P-th percentile (0..100, linear) of column COL (1-based, default 1) of FILE
  util.py lsn X/Y              a pg_lsn as a byte number
"""
import os
import re
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); field k is rest[k-3]
    ppid = int(rest[1])
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    return ppid, ticks


def cpu_tree(root):
    """Own + reaped children's ticks of root and of every live descendant (no double counting)."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(name)
            if s:
                stats[int(name)] = s
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total / TICK


def measure(out, argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc = subprocess.call(argv)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out, "w") as f:
        f.write(f"{wall:.3f} {cpu:.3f} {after.ru_maxrss} {rc}\n")
    return rc


_UNITS = {"B": 1 / 1048576, "K": 1 / 1024, "M": 1, "G": 1024}
_GC = re.compile(r"(\d+(?:\.\d+)?)([BKMG])->(\d+(?:\.\d+)?)([BKMG])\((\d+(?:\.\d+)?)([BKMG])\)")


def gcpeak(path, skip=0):
    """'peak live': largest heap occupancy before a GC, and largest after one (the live set it kept)."""
    peak = live = 0.0
    try:
        with open(path, errors="replace") as f:
            for i, line in enumerate(f):
                if i < skip:
                    continue
                for m in _GC.finditer(line):
                    before = float(m.group(1)) * _UNITS[m.group(2)]
                    peak = max(peak, before)
                    live = max(live, float(m.group(3)) * _UNITS[m.group(4)])
    except OSError:
        return ""
    return f"{peak:.0f} {live:.0f}"


def percentile(p, values):
    if not values:
        return ""
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(args):
    cmd = args[0]
    if cmd == "cpu":
        print(f"{cpu_tree(int(args[1])):.2f}")
    elif cmd == "measure":
        out = args[1]
        assert args[2] == "--"
        sys.exit(measure(out, args[3:]))
    elif cmd == "gcpeak":
        print(gcpeak(args[1], int(args[2]) if len(args) > 2 else 0))
    elif cmd == "lines":
        try:
            with open(args[1], errors="replace") as f:
                print(sum(1 for _ in f))
        except OSError:
            print(0)
    elif cmd == "pct":
        col = int(args[3]) - 1 if len(args) > 3 else 0
        vals = []
        with open(args[2]) as f:
            for line in f:
                parts = line.split()
                if len(parts) > col:
                    try:
                        vals.append(float(parts[col]))
                    except ValueError:
                        pass
        v = percentile(float(args[1]), vals)
        print("" if v == "" else f"{v:.6g}")
    elif cmd == "lsn":
        hi, lo = args[1].split("/")
        print(int(hi, 16) << 32 | int(lo, 16))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
