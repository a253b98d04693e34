#!/usr/bin/env python3
"""Turns bench/results/<stamp>/<shape>/results.tsv into one results table per shape (stdout) and, with --docs FILE,
docs/benchmarks.md.

usage: report.py DIR [DIR ...] [--docs FILE]   (a DIR holding results.tsv, or a run's directory of shape directories)
results.tsv rows: section, tool, run, metric, value ('error' rows carry the reason a run failed).
"""
import glob
import os
import re
import statistics
import sys
from collections import defaultdict

TOOLS = ["ferry", "pgcopydb", "pgdump", "tsdump", "native"]
HEAD = {"ferry": "ferry", "pgcopydb": "pgcopydb clone", "pgdump": "pg_dump -Fd \\| pg_restore",
        "tsdump": "FAQ path (pg_dump -Fd, catalog serially, pg_restore -j2)", "native": "native subscription"}
PEER = {"pgcopydb": "pgcopydb", "pgdump": "pg_dump", "tsdump": "FAQ path", "native": "native"}
SHAPES = {
    "bench": "pgbench tables + wide TOASTed table + partitioned table + table without primary key + big_orders "
             "(larger than all others together)",
    "pgbench": "plain `pgbench -i`: pgbench_accounts holds 95% of it, one primary key",
    "toast": "one wide table of 2–20 kB documents stored in TOAST + small tables with foreign keys",
    "timescale": "TimescaleDB: two hypertables with most chunks compressed (one space-partitioned, without primary "
                 "key), a continuous aggregate, paused policies, plain tables",
}

# label, section, metric, lower_is_better (None: no ratio), decimals
ROWS = [
    ("**Initial copy** wall time, s", "copy", "wall_s", True, 1),
    ("Initial copy MB/s (source DB size / wall)", "copy", "mb_per_s", False, 1),
    ("Initial copy MB/s of raw hypertable data (before compression) / wall", "copy", "raw_mb_per_s", False, 1),
    ("Initial copy CPU s, source server", "copy", "cpu_source_s", True, 1),
    ("Initial copy CPU s, target server", "copy", "cpu_target_s", True, 1),
    ("Initial copy CPU s, tool", "copy", "cpu_tool_s", True, 1),
    ("Initial copy: target equals source (row counts; TimescaleDB: also compressed chunks, cagg rows)", "copy", "verified", None, 0),
    ("**Apply** backlog: seconds to catch up", "apply", "catchup_s", True, 1),
    ("Apply: transactions/s", "apply", "tx_per_s", False, 0),
    ("Apply: row changes/s", "apply", "rows_per_s", False, 0),
    ("Apply: of which ferry's restart until streaming, s", "apply", "startup_s", None, 1),
    ("Apply CPU s, source server", "apply", "cpu_source_s", True, 1),
    ("Apply CPU s, target server", "apply", "cpu_target_s", True, 1),
    ("Apply CPU s, tool", "apply", "cpu_tool_s", True, 1),
    ("Apply: ferry CPU s per million row changes", "apply", "cpu_tool_per_m", True, 1),
    ("Apply: target server CPU s per million row changes", "apply", "cpu_target_per_m", True, 1),
    ("Apply: pgbench_accounts equal on both sides", "apply", "verified", None, 0),
    ("**Steady lag** p50, s", "lag", "p50_s", True, 3),
    ("Steady lag p99, s", "lag", "p99_s", True, 3),
    ("Steady lag max, s", "lag", "max_s", True, 3),
    ("Steady lag p50, bytes", "lag", "p50_bytes", True, 0),
    ("Steady lag p99, bytes", "lag", "p99_bytes", True, 0),
    ("Steady lag: transactions/s the source ran (pgbench -R asks more; short of it, the machine was saturated)", "lag", "source_tps", None, 0),
    ("Steady lag CPU s, tool", "lag", "cpu_tool_s", True, 1),
    ("**Big transaction**: visible on target after its commit, s", "bulk", "visible_s", True, 1),
    ("Big transaction: all its rows on the target", "bulk", "verified", None, 0),
    ("Big transaction CPU s, target server", "bulk", "cpu_target_s", True, 1),
    ("Big transaction CPU s, tool", "bulk", "cpu_tool_s", True, 1),
    ("**ferry memory** peak heap MB, initial copy", "copy", "heap_peak_mb", None, 0),
    ("ferry heap after GC (live set), max MB, initial copy", "copy", "heap_live_mb", None, 0),
    ("ferry peak RSS MB, initial copy", "copy", "rss_peak_mb", None, 0),
    ("ferry peak heap MB, apply backlog", "apply", "heap_peak_mb", None, 0),
    ("ferry heap after GC (live set), max MB, apply backlog", "apply", "heap_live_mb", None, 0),
    ("ferry peak RSS MB, apply backlog", "apply", "rss_peak_mb", None, 0),
    ("ferry peak heap MB, steady lag", "lag", "heap_peak_mb", None, 0),
    ("ferry heap after GC (live set), max MB, steady lag", "lag", "heap_live_mb", None, 0),
    ("ferry peak RSS MB, steady lag", "lag", "rss_peak_mb", None, 0),
    ("ferry peak heap MB, big transaction", "bulk", "heap_peak_mb", None, 0),
    ("ferry heap after GC (live set), max MB, big transaction", "bulk", "heap_live_mb", None, 0),
    ("ferry peak RSS MB, big transaction", "bulk", "rss_peak_mb", None, 0),
    ("ferry peak heap MB, copy of huge values", "huge", "heap_peak_mb", None, 0),
    ("ferry heap after GC (live set), max MB, copy of huge values", "huge", "heap_live_mb", None, 0),
    ("ferry peak RSS MB, copy of huge values", "huge", "rss_peak_mb", None, 0),
    ("ferry copy of huge values: wall, s", "huge", "wall_s", None, 1),
]


def load(out):
    data = defaultdict(lambda: defaultdict(list))   # (section, tool) -> metric -> [values]
    errors = defaultdict(list)                       # (section, tool) -> [(run, reason)]
    runs = defaultdict(set)
    with open(os.path.join(out, "results.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            section, tool, run, metric, value = parts
            runs[(section, tool)].add(run)
            if metric == "error":
                errors[(section, tool)].append((run, value))
            else:
                data[(section, tool)][metric].append(value)
    per_million(data)
    return data, errors, runs


def per_million(data):
    """CPU seconds per million row changes of the apply backlog, run by run (rows = rows/s x seconds)."""
    for (section, tool), metrics in list(data.items()):
        if section != "apply":
            continue
        rates, secs = metrics.get("rows_per_s", []), metrics.get("catchup_s", [])
        for cpu, derived in (("cpu_tool_s", "cpu_tool_per_m"), ("cpu_target_s", "cpu_target_per_m")):
            values = metrics.get(cpu, [])
            if values and len(values) == len(rates) == len(secs):
                metrics[derived] = [f"{float(c) / (float(r) * float(t)) * 1e6:.3f}" for c, r, t in zip(values, rates, secs)
                                    if float(r) * float(t) > 0]


def machine(out):
    m = {}
    try:
        with open(os.path.join(out, "machine.txt")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                m[k] = v
    except OSError:
        pass
    return m


def num(values):
    out = []
    for v in values:
        try:
            out.append(float(v))
        except ValueError:
            pass
    return out


def fmt(x, d):
    if d == 0:
        return f"{x:,.0f}"
    return f"{x:,.{d}f}"


SHOWN = set()   # (section, tool) whose failure reason the table already shows


def cell(data, errors, section, tool, metric, d):
    vals = data.get((section, tool), {}).get(metric, [])
    errs = errors.get((section, tool), [])
    # stream-session failures are recorded under 'stream' and void every streaming row
    if section in ("apply", "lag", "bulk"):
        errs = errs + errors.get(("stream", tool), [])
    if not vals:
        if errs:
            if (section, tool) in SHOWN:
                return "—"
            SHOWN.add((section, tool))
            return "FAILED (" + errs[0][1].replace("|", "\\|")[:160] + ")"
        return ""
    if metric == "verified":
        ok = sum(1 for v in vals if v == "yes")
        return f"{ok} of {len(vals)} runs" if ok != len(vals) else "yes"
    n = num(vals)
    med = statistics.median(n)
    s = fmt(med, d)
    if len(n) > 1:
        s += f" ({fmt(min(n), d)}–{fmt(max(n), d)})"
    if errs:
        s += f" [{len(errs)} run(s) failed]"
    bad = unverified(data, section, tool) if metric in ("wall_s", "catchup_s", "visible_s") else 0
    if bad:
        s += f" [{bad} run(s) whose target differs from the source]"
    return s


def median(data, section, tool, metric):
    n = num(data.get((section, tool), {}).get(metric, []))
    return statistics.median(n) if n else None


def ratio_cell(data, section, metric, lower):
    if lower is None:
        return ""
    f = median(data, section, "ferry", metric)
    if f is None:
        return ""
    parts = []
    for peer in ("pgcopydb", "pgdump", "tsdump", "native"):
        p = median(data, section, peer, metric)
        if p:
            parts.append(f"{f / p:.2f}× {PEER[peer]}")
    return ", ".join(parts)


def table(data, errors, runs):
    present = [t for t in TOOLS if any(k[1] == t for k in runs)]
    lines = ["| measurement | " + " | ".join(HEAD[t] for t in present) + " | ferry / peer |",
             "|---|" + "---|" * len(present) + "---|"]
    for label, section, metric, lower, d in ROWS:
        cells = [cell(data, errors, section, t, metric, d) for t in present]
        if not any(cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio_cell(data, section, metric, lower)} |")
    return "\n".join(lines)


def unverified(data, section, tool):
    """Runs whose target did not match the source: their times say nothing."""
    return sum(1 for v in data.get((section, tool), {}).get("verified", []) if v != "yes")


def verdicts(data, errors, shape):
    out = []

    def status(ok):
        return "**met**" if ok else "**not met**"

    def why_not(section, tool="ferry"):
        e = errors.get((section, tool)) or errors.get(("stream", tool)) or [("", "not measured")]
        return e[0][1]

    def checked(section, tools, lead=" — but "):
        bad = [f"{HEAD[t]}'s target differed from the source in {unverified(data, section, t)} run(s)"
               for t in tools if unverified(data, section, t)]
        return lead + "; ".join(bad) if bad else ""

    f = median(data, "copy", "ferry", "wall_s")
    goals = [("tsdump", 0.7)] if shape == "timescale" else [("pgcopydb", 0.8), ("pgdump", 0.7)]
    for peer, goal in goals:
        p = median(data, "copy", peer, "wall_s")
        if f is None and (data.get(("copy", peer)) or errors.get(("copy", "ferry"))):
            out.append(f"- Copy ≤ {goal}× {PEER[peer]}: **not measured** (ferry: {why_not('copy')}).")
        elif f is not None and p:
            out.append(f"- Copy ≤ {goal}× {PEER[peer]}: {status(f / p <= goal and not checked('copy', ['ferry', peer]))} "
                       f"({f / p:.2f}×: {f:.1f} s vs {p:.1f} s){checked('copy', ['ferry', peer])}.")
        elif f is not None and errors.get(("copy", peer)):
            out.append(f"- Copy ≤ {goal}× {PEER[peer]}: **not measured** ({PEER[peer]}: {why_not('copy', peer)}).")
    if shape == "timescale" and f is not None:
        runs = len(data[("copy", "ferry")].get("verified", []))
        ok = runs and not unverified(data, "copy", "ferry") and not unverified(data, "copy", "tsdump")
        out.append(f"- TimescaleDB: rows per hypertable and compressed chunks equal to the source's on both targets: "
                   f"{status(ok)}{checked('copy', ['ferry', 'tsdump'], ': ')}.")

    if ("apply", "ferry") in data or ("apply", "native") in data or ("stream", "ferry") in errors:
        f = median(data, "apply", "ferry", "tx_per_s")
        n = median(data, "apply", "native", "tx_per_s")
        if f is None or not n:
            out.append(f"- Apply ≥ 1.2× native: **not measured** ({'ferry: ' + why_not('apply') if f is None else 'native not measured'}).")
        else:
            out.append(f"- Apply ≥ 1.2× native: {status(f / n >= 1.2 and not checked('apply', ['ferry', 'native']))} "
                       f"({f / n:.2f}×: {f:,.0f} vs {n:,.0f} transactions/s){checked('apply', ['ferry', 'native'])}.")
        c = median(data, "apply", "ferry", "cpu_tool_per_m")
        if c is not None:
            t = median(data, "apply", "ferry", "cpu_target_per_m")
            out.append(f"- ferry's CPU ≤ 5 s per million row changes (apply): {status(c <= 5)} ({c:.1f} s; the target "
                       f"server's {t:.1f} s)." if t is not None else f"- ferry's CPU ≤ 5 s per million row changes: {status(c <= 5)} ({c:.1f} s).")
        r = median(data, "apply", "ferry", "startup_s")
        if r is not None:
            out.append(f"- Restart until streaming ≤ 1 s: {status(r <= 1)} ({r:.2f} s).")
        f = median(data, "lag", "ferry", "p99_s")
        if f is None:
            out.append(f"- p99 lag < 1 s: **not measured** (ferry: {why_not('lag')}).")
        else:
            worst = max(num(data[("lag", "ferry")]["p99_s"]))
            out.append(f"- p99 lag < 1 s: {status(worst < 1)} (median p99 {f:.3f} s, worst run {worst:.3f} s).")
        f = median(data, "bulk", "ferry", "visible_s")
        n = median(data, "bulk", "native", "visible_s")
        if f is None or not n:
            out.append(f"- Big transaction ≤ 1.0× native's time: **not measured** ({'ferry: ' + why_not('bulk') if f is None else 'native not measured'}).")
        else:
            out.append(f"- Big transaction ≤ 1.0× native's time: {status(f / n <= 1.0 and not checked('bulk', ['ferry', 'native']))} "
                       f"({f / n:.2f}×: {f:.1f} s vs {n:.1f} s){checked('bulk', ['ferry', 'native'])}.")
    heaps, live = [], []
    for section in ("copy", "apply", "lag", "bulk", "huge"):
        heaps += num(data.get((section, "ferry"), {}).get("heap_peak_mb", []))
        live += num(data.get((section, "ferry"), {}).get("heap_live_mb", []))
    oom = [r for k, v in errors.items() if k[1] == "ferry" for r in v if "OutOfMemory" in r[1]]
    if heaps:
        ok = max(heaps) <= 256 and not oom
        out.append(f"- Heap ≤ 256 MB: {status(ok)} (every ferry run had `-Xmx256m`"
                   + (f"; OutOfMemoryError in {len(oom)} run(s)" if oom else " and none ran out of memory")
                   + f"; largest heap occupancy before a GC {max(heaps):.0f} MB, largest live set after a GC "
                   + f"{max(live) if live else 0:.0f} MB: the collector lets garbage fill the heap it is given, so the live set is what ferry needs).")
    elif any(k[1] == "ferry" for k in data):
        out.append("- Heap ≤ 256 MB: **not measured** (no ferry run reached a GC).")
    return "\n".join(out)


def _log_time(line):
    from datetime import datetime, timezone
    m = re.match(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)Z", line)
    if not m:
        return None
    return datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()


def ferry_time(out):
    """Where ferry's copy time goes: phases from its ferry.log per copy run (median over runs), largest tables."""
    phases = defaultdict(list)
    parts = defaultdict(list)    # shares of a phase, shown under it but not added to the total
    tables = defaultdict(list)
    for d in sorted(glob.glob(os.path.join(out, "ferry", "copy-r*"))):
        try:
            with open(os.path.join(d, "started_at")) as f:
                started = float(f.read())
            with open(os.path.join(d, "ferry.log"), errors="replace") as f:
                log = f.readlines()
        except (OSError, ValueError):
            continue
        marks = {}
        first = None
        extra = {}   # TimescaleDB's steps between post-data and stream, from their own log lines
        patterns = {"of which: compressing the target's chunks (TimescaleDB)": r"compression: compressed \d+ chunks .* in ([\d.]+) s",
                    "of which: creating and refreshing continuous aggregates (TimescaleDB)": r"continuous aggregates: created and refreshed .* in ([\d.]+) s"}
        for line in log:
            t = _log_time(line)
            if t is None:
                continue
            first = first or t
            m = re.search(r"ferry phase: (\S+)", line)
            if m and m.group(1) not in marks:
                marks[m.group(1)] = t
            for label, pattern in patterns.items():
                m = re.search(pattern, line)
                if m and "stream" not in marks:
                    extra[label] = extra.get(label, 0.0) + float(m.group(1))
            m = re.search(r'copied "([^"]+)"\."([^"]+)": ([\d,]+) rows, ([\d.]+ [kMG]?B) in ([\d.]+) s', line)
            if m:
                tables[m.group(2)].append((float(m.group(5)), m.group(3), m.group(4)))
        if not first or not {"copy", "post-data", "stream"} <= marks.keys():
            continue
        phases["JVM start until ferry's first log line"].append(first - started)
        phases["preflight, publications, slot, pre-data schema"].append(marks["copy"] - first)
        phases["data copy and index builds (COPY --jobs workers; each table's indexes as it finishes)"].append(marks["post-data"] - marks["copy"])
        phases["rest of post-data: foreign keys, triggers, ... (pg_restore --jobs); TimescaleDB: the steps below"].append(marks["stream"] - marks["post-data"])
        for label, secs in extra.items():
            parts[label].append(secs)
    if not phases:
        return ""
    lines = ["| part of ferry's initial copy | seconds (median) | share |", "|---|---|---|"]
    total = sum(statistics.median(v) for v in phases.values())
    for k, v in phases.items():
        med = statistics.median(v)
        lines.append(f"| {k} | {med:.1f} | {100 * med / total:.0f}% |")
    for k, v in parts.items():
        med = statistics.median(v)
        lines.append(f"| {k} | {med:.1f} | {100 * med / total:.0f}% |")
    lines.append(f"| total until phase `stream` | {total:.1f} | |")
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}

    def size(text):
        n, u = text.split()
        return float(n) * units.get(u, 1)

    big = sorted(tables.items(), key=lambda kv: -size(kv[1][0][2]))[:4]
    if big:
        lines.append("")
        lines.append("Largest tables in the first copy run (ferry's `copied` lines; the time is how long the table took, "
                     "from its first chunk to its last): "
                     + "; ".join(f"{name} {v[0][1]} rows, {v[0][2]} in {v[0][0]:.1f} s" for name, v in big) + ".")
    return "\n".join(lines)


HOW_TO_RUN = """## How to run

```
bench/run.sh                      # shape bench, scale 10, 3 runs (installs postgresql-15, postgresql-client-15, pgcopydb if missing)
bench/run.sh --scale 1 --runs 1 --backlog 20000 --lag-seconds 10 --bulk-rows 200000 --no-docs   # a quick check
bench/run.sh --shape bench,pgbench,toast --runs 3 --sections copy   # the copy on each shape (issue 19)
bench/run.sh --shape timescale --runs 3                             # TimescaleDB: ferry vs the FAQ's path (issue 15)
bench/run.sh --scale 5 --runs 2 --sections stream --backlog 100000 --bulk-rows 5000000 --lag-seconds 20   # the stream
bench/run.sh --help               # every option
```
Shapes (`--shape`, several in one run are measured one after the other, each with its own source database):

| shape | dataset | default `--scale` (size) |
|---|---|---|
| `bench` | pgbench tables, a wide TOASTed table, a partitioned table, a table without primary key and `big_orders`, larger than all others together | 10 (about 1.2 GB) |
| `pgbench` | plain `pgbench -i -s N`: one table holds 95% of it | 60 (about 0.9 GB) |
| `toast` | `documents`, bodies of 2–20 kB random text stored in TOAST, plus authors, tags and a link table with foreign keys; at least as big as `pgbench` at the same scale | 60 (about 1 GB) |
| `timescale` | TimescaleDB (servers started with `shared_preload_libraries = 'timescaledb'`): `metrics` (segmentby `device_id`, orderby `time DESC`) and `readings` (space-partitioned, no primary key, `REPLICA IDENTITY FULL`), chunks of one day, all but the last two days' compressed; a continuous aggregate; compression, retention and refresh policies, paused; two plain tables | 60 (about 1.06 GB raw, before compression) |

The stream section needs pgbench's tables (shapes `bench` and `pgbench`). TimescaleDB comes from
`$TIMESCALEDB_INSTALL` (default `../shared/timescaledb/install.sh`) when it is not installed.
Raw rows, ferry's logs and GC logs of a run: `bench/results/<timestamp>/<shape>/` (not committed).
"""

METHOD_COPY = """- **Initial copy**: the target database is dropped and created empty before every run. ferry: `ferry run --jobs 2`
  from its start until it has set `ferry.migration.phase` on the target to `stream` (schema, data and indexes done;
  JVM start included; seen in ferry's log, polled every 50 ms, so the wait adds no logins to the target) and, on
  TimescaleDB, until the target has as many compressed chunks as the source; then `ferry cutover`. The launcher's
  class-data sharing archive is made once after the build, before any timed run. pgcopydb: `pgcopydb clone
  --table-jobs 2 --index-jobs 2`. pg_dump: `pg_dump -Fd -j2` to a local directory, then `pg_restore -j2`, timed
  together. MB/s is the source's `pg_database_size` divided by the wall time. CPU seconds of a server are those of
  its postmaster and all its processes (including exited backends, from `/proc/<pid>/stat` cutime); a tool's are
  those of its process tree (`getrusage` of waited children; for ferry the JVM's `/proc` times at the moment it
  reached `stream`). After every copy, by every tool, the row count of every table on the target is compared with
  the source (on TimescaleDB through each hypertable, plus each hypertable's number of compressed chunks and each
  continuous aggregate's rows); a run whose target differs is shown as not verified and voids the ratio's verdict.
- **TimescaleDB, the FAQ's path** (`tsdump`), timed as one: `pg_dump -Fd -j2`; on the target `CREATE EXTENSION
  timescaledb` and `SELECT timescaledb_pre_restore()`; `pg_restore --section=pre-data` (serially, as `pg_restore -j`
  does pre-data anyway); the `_timescaledb_catalog` schema's data and post-data serially; everything else's data and
  post-data with `pg_restore -j2 --disable-triggers`; `SELECT timescaledb_post_restore()`; all with `--no-owner
  --no-privileges --no-tablespaces --exit-on-error`. The FAQ restores the catalog first of all, but TimescaleDB
  2.25.2 keeps a regclass column there (`compression_settings.relid`) that cannot be loaded before its table exists
  (`relation "public.metrics" does not exist`, tried), so the schema's tables come first. Each step's end is
  stamped into `tsdump.log` (`tsdump step <name> <epoch seconds>`), for its breakdown."""


def shape_section(out):
    m = machine(out)
    shape = m.get("shape", "bench")
    data, errors, runs = load(out)
    SHOWN.clear()
    tab = table(data, errors, runs)
    ver = verdicts(data, errors, shape)
    size = f"source database {m.get('db_mb', '?')} MB"
    if m.get("raw_mb"):
        size += f" ({m['raw_mb']} MB of hypertable data before compression; TimescaleDB {m.get('timescaledb', '?')})"
    lines = [f"### Shape `{shape}`", "",
             f"- Dataset: {SHAPES.get(shape, shape)}; scale {m.get('scale', '?')}: {size}"]
    if "stream" in m.get("sections", "stream"):
        lines.append(f"- Apply backlog: {m.get('backlog', '?')} pgbench TPC-B transactions; steady lag: pgbench "
                     f"`-R {m.get('lag_rate', '?')}` for {m.get('lag_seconds', '?')} s; big transaction: "
                     f"{m.get('bulk_rows', '?')} rows inserted in one transaction")
    if "huge" in m.get("sections", ""):
        lines.append(f"- Huge values: {m.get('huge_mb', '?')} MB each")
    lines += ["", tab, "", "Targets:", "", ver]
    return shape, "\n".join(lines), ferry_time(out)


def docs(outs, path, sections):
    m = machine(outs[0])
    text = f"""# Benchmarks

Measured with `bench/run.sh` (not part of `./mvnw verify`). It starts two local PostgreSQL servers, builds the dataset
of each shape and measures ferry against its peers on the same servers, each measurement {m.get('runs', '?')} time(s):
median, and min–max in parentheses.

{HOW_TO_RUN}
## This run

- Command: `{m.get('command', '?')}`
- Date (UTC): {m.get('date_utc', '?')}
- Machine: {m.get('nproc', '?')} cores ({m.get('cpu', '?')}), {m.get('memory', '?')} memory, {m.get('os', '?')}
- PostgreSQL {m.get('postgresql', '?')} (source and target on this machine, 127.0.0.1), pgcopydb {m.get('pgcopydb', '?')}, {m.get('java', '?')}
- ferry: commit {m.get('ferry', '?')}, heap `{m.get('ferry_heap', '?')}`, `--jobs {m.get('jobs', '?')}`

## Results

"""
    text += "\n\n".join(body for _, body, _ in sections) + "\n"
    text += f"""
## Method

{METHOD_COPY}
- **Apply**: per consumer, a fresh target is brought to streaming (ferry: `ferry run` until phase `stream`, then SIGTERM;
  native: schema with `pg_dump -s`, `CREATE SUBSCRIPTION ... WITH (copy_data = true)`, wait until every table is
  ready, `DISABLE`). With the consumer stopped, pgbench (`-c 2 -j 2 -M prepared`, synchronous_commit off for the
  generator only) runs the backlog, then a marker row is inserted. Timed from restarting `ferry run` (it resumes from
  its slot) / `ALTER SUBSCRIPTION ENABLE` until the marker row is visible on the target; ferry's restart until
  streaming is from that start until its `streaming from slot` log line. Row changes are the source's
  `pg_stat_user_tables` insert+update+delete counts of the backlog; CPU per million row changes is a process's CPU
  seconds in that window divided by them. Afterwards `pgbench_accounts`' balances are compared on both sides.
- **Steady lag**: pgbench `-R` (`-c 4 -j 2`, synchronous_commit on) with 1% of transactions inserting `clock_timestamp()` into `bench_lag`; on the target a
  `BEFORE INSERT` trigger (`ENABLE ALWAYS`, so it fires under `session_replication_role = replica`) stamps the arrival
  time; lag in seconds = arrival − source time of every such row (arrival is stamped inside the applying transaction,
  so a consumer's own commit delay after that row is not included). Lag in bytes is sampled every 0.5 s:
  `pg_current_wal_lsn()` on the source minus ferry's `ferry.migration.applied_lsn`, or minus the subscription's
  `pg_stat_replication.replay_lsn` for native.
- **Big transaction**: one `INSERT ... SELECT generate_series` of `--bulk-rows` rows on the source while the
  consumer streams; timed from its commit until a marker inserted after it is visible on the target, whose row count
  is then checked.
- **Memory**: ferry runs with `FERRY_JAVA_OPTS="-Xmx256m -Xlog:gc:file=..."` (and the serial collector, which the
  `ferry` launcher picks unless the options name another). Peak heap is the largest heap occupancy
  before any GC in the window (from the GC log); peak RSS is `VmHWM` from `/proc/<pid>/status`, reset through
  `/proc/<pid>/clear_refs` at the start of each window. The "huge values" run copies a separate database whose table
  holds 4 rows with one random {m.get('huge_mb', '?')} MB bytea or text value each.
- Both servers and all tools share the machine's {m.get('nproc', '?')} cores; servers use `shared_buffers = 1GB`,
  `wal_level = logical`, `max_wal_size = 8GB`, fsync on.
"""
    for shape, _, timeline in sections:
        if timeline:
            text += f"""
## Where ferry's copy time goes, shape `{shape}`

From ferry's own logs (`ferry.log` of each copy run; phase changes as ferry records them):

{timeline}
"""
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            text += "\n" + f.read()
    with open(path, "w") as f:
        f.write(text)


def shape_dirs(args):
    """Each argument as given when it holds results.tsv, else its shape directories (a whole run's)."""
    outs = []
    for a in args:
        if os.path.exists(os.path.join(a, "results.tsv")):
            outs.append(a)
        else:
            outs += sorted(os.path.dirname(f) for f in glob.glob(os.path.join(a, "*", "results.tsv")))
    return outs


def main(argv):
    path = None
    if "--docs" in argv:
        i = argv.index("--docs")
        path = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    outs = shape_dirs(argv)
    if not outs:
        sys.exit(f"report.py: no results.tsv in {' '.join(argv)}")
    sections = []
    for out in outs:
        m = machine(out)
        shape, body, timeline = shape_section(out)
        sections.append((shape, body, timeline))
        print(f"\nshape {shape}, scale {m.get('scale', '?')}, {m.get('runs', '?')} run(s), source database "
              f"{m.get('db_mb', '?')} MB{' (' + m['raw_mb'] + ' MB raw)' if m.get('raw_mb') else ''}; median (min–max)\n")
        print(body.split("\n", 2)[2])
    if path:
        docs(outs, path, sections)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
