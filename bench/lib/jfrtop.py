#!/usr/bin/env python3
"""Where a JFR recording's CPU samples are, per thread (standard library and the JDK's `jfr` tool only).

  jfrtop.py FILE.jfr [TOP]   per thread: samples; share by stage (decode, apply, pgjdbc, logging: the stage of the
                             innermost frame in one); self time by package; the TOP hottest methods

Used for docs/benchmarks.md's "Where ferry's CPU goes in apply" (bench/profile-apply.sh --jfr DIR).
"""
import collections
import json
import subprocess
import sys

# a sample counts for the stage of the innermost frame that is in one (JDK code counts for its caller's stage)
STAGES = [
    ("pgjdbc: binding, encoding, protocol", ("org/postgresql/",)),
    ("decode (replication/)", ("dev/ferry/replication/",)),
    ("apply: change -> statement, batch", ("dev/ferry/agent/apply/",)),
    ("stream: hand-off, dispatch", ("dev/ferry/agent/stream/",)),
    ("logging", ("ch/qos/logback/", "org/slf4j/", "java/util/logging/")),
    ("other ferry code (start, resume, state)", ("dev/ferry/", "picocli/", "com/zaxxer/")),
]


def package(method):
    parts = method["type"]["name"].split("/")
    return "/".join(parts[:4]) if parts[0] == "dev" else "/".join(parts[:2])


def main(path, top=15):
    out = subprocess.run(["jfr", "print", "--json", "--events", "jdk.ExecutionSample", path],
                         check=True, capture_output=True, text=True).stdout
    events = json.loads(out)["recording"]["events"]
    by_thread = collections.defaultdict(list)
    for e in events:
        thread = (e["values"].get("sampledThread") or {}).get("javaName") or "?"
        frames = [f["method"] for f in (e["values"].get("stackTrace") or {}).get("frames", [])]
        if frames:
            by_thread[thread].append(frames)
    total = sum(len(v) for v in by_thread.values())
    print(f"{total} samples")
    for thread, stacks in sorted(by_thread.items(), key=lambda kv: -len(kv[1])):
        n = len(stacks)
        if n < total * 0.02:
            continue
        print(f"\n== {thread}: {n} samples ({100 * n / total:.0f}%)")
        stages = collections.Counter()
        for frames in stacks:
            names = [f["type"]["name"] for f in frames]
            stage = next((stage for name in names for stage, prefixes in STAGES if name.startswith(prefixes)), "JDK only")
            stages[stage] += 1
        for stage, count in stages.most_common():
            print(f"  stage {100 * count / n:4.0f}%  {stage}")
        for pkg, count in collections.Counter(package(f[0]) for f in stacks).most_common(8):
            print(f"  self {100 * count / n:4.0f}%  {pkg}")
        for m, count in collections.Counter(f"{f[0]['type']['name']}.{f[0]['name']}" for f in stacks).most_common(top):
            print(f"    {100 * count / n:4.1f}%  {m}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 15)
