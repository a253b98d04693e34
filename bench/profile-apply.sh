#!/usr/bin/env bash
# ferry's own CPU in the stream/apply path, measured as bench/run.sh's stream section builds its backlog (pgbench TPC-B
# transactions gathered in the slot while ferry is stopped, then ferry restarted), but small and on its own servers.
# CPU seconds of the ferry JVM (/proc/<pid>/stat utime+stime), not wall time, so it holds on a loaded machine.
# See --help. Not part of ./mvnw verify.
set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
PGBIN=/usr/lib/postgresql/15/bin
export PATH="$PGBIN:$PATH"

SCALE=5
BACKLOG=100000
RUNS=3
SRC_PORT=55441
DST_PORT=55442
WORK=/tmp/ferry-profile-apply
FERRIES=()
JFR=""
BULK=0
TIMEOUT=600

usage() {
  cat <<EOF
Usage: bench/profile-apply.sh [options]

Makes two PostgreSQL 15 servers under --work (kept between calls), a pgbench database at --scale, and a ferry
migration of it that reaches streaming once. Then, per run and per ferry launcher (interleaved, A B A B ...): stops
ferry, runs --backlog pgbench TPC-B transactions on the source, restarts ferry and waits until a marker row written
after the backlog is on the target. Prints per run:
  rows              row changes in the backlog (pg_stat_user_tables)
  start_s start_cpu wall and ferry CPU from launch until stream.log says "streaming from slot"
  apply_s apply_cpu wall and ferry CPU from then until the marker is on the target
  cpu_per_M         ferry's CPU, launch to marker, per million row changes (bench/run.sh's cpu_tool_s / rows)
  apply_per_M       apply_cpu per million row changes (the JVM's start left out)
With --bulk N, then, ferry still running: one source transaction inserting N rows, timed from its commit until a
marker after it is on the target (bulk_s, bulk_cpu: ferry's CPU meanwhile).
Also ferry's CPU per thread group (C1/C2 JIT compilers, VM Thread = serial GC and safepoints, java = main thread, which
applies, ferry-stream-reader) as "until streaming + while applying".

Options:
  --scale N        pgbench scale (default $SCALE)
  --backlog N      TPC-B transactions per run (default $BACKLOG)
  --runs N         runs per ferry (default $RUNS)
  --ferry PATH     a ferry launcher; give it twice (or more) for interleaved A/B runs (default ./ferry)
  --bulk N         after each apply, one transaction of N rows (default: none)
  --jfr DIR        record each start with JFR into DIR/<label>.jfr (settings: JFR_SETTINGS, default profile;
                   bench/lib/jfrtop.py sums the CPU samples)
  --work DIR       servers and ferry's work dir (default $WORK)
  --src-port N / --dst-port N   (default $SRC_PORT / $DST_PORT)
Extra JVM options come from FERRY_JAVA_OPTS, the heap from FERRY_HEAP (default -Xmx256m).
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --backlog) BACKLOG="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --ferry) FERRIES+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    --bulk) BULK="$2"; shift 2 ;;
    --jfr) JFR="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --src-port) SRC_PORT="$2"; shift 2 ;;
    --dst-port) DST_PORT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#FERRIES[@]} -gt 0 ] || FERRIES=("$REPO/ferry")
mkdir -p "$WORK"; WORK="$(cd "$WORK" && pwd)"
OUT="$WORK/results/$(date -u +%Y%m%d-%H%M%S)"; mkdir -p "$OUT"
LOG="$OUT/run.log"

USER_NAME=bench; PASSWORD=bench; DB=bench
export PGPASSWORD="$PASSWORD" PGUSER="$USER_NAME" PGHOST=127.0.0.1 PGCONNECT_TIMEOUT=10
SRC_URI="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$SRC_PORT/$DB"
DST_URI="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$DST_PORT/$DB"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { log "FATAL: $*"; exit 1; }
now() { date +%s.%N; }
src() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -p "$SRC_PORT" -d "${2:-$DB}" -c "$1"; }
dst() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -p "$DST_PORT" -d "${2:-$DB}" -c "$1"; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# user+system CPU seconds of one process (its threads, not its children: the launcher execs java)
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null; }

init_server() { # DIR PORT
  local dir="$1" port="$2"
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; echo "$PASSWORD" >"$WORK/pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$dir" "$WORK/pwfile"
    as_pg initdb -D "$dir" -U "$USER_NAME" --pwfile="$WORK/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOG" 2>&1 \
      || die "initdb $dir failed (see $LOG)"
    rm -f "$WORK/pwfile"
    cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
shared_buffers = 256MB
wal_level = logical
max_wal_size = 4GB
checkpoint_timeout = 30min
max_replication_slots = 10
max_wal_senders = 10
EOF
    printf 'host all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n' >"$dir/pg_hba.conf"
  fi
  as_pg pg_ctl -D "$dir" status >/dev/null 2>&1 \
    || as_pg pg_ctl -D "$dir" -l "$dir/server.log" -w -t 120 start >>"$LOG" 2>&1 || die "server $dir did not start"
}

FERRY_PID=""
ferry_start() { # LAUNCHER LABEL
  local dir="$OUT/$2"; mkdir -p "$dir"
  local opts="${FERRY_HEAP:--Xmx256m} ${FERRY_JAVA_OPTS:-}"
  [ -n "$JFR" ] && opts="$opts -XX:StartFlightRecording=filename=$JFR/$2.jfr,settings=${JFR_SETTINGS:-profile}"
  FERRY_JAVA_OPTS="$opts" "$1" run --source "$SRC_URI" --target "$DST_URI" --jobs 2 --log-dir "$dir" \
    --work-dir "$WORK/ferry-work" --slot ferry_profile >>"$dir/console.log" 2>&1 &
  FERRY_PID=$!
  FERRY_LOG_DIR="$dir"
}
ferry_stop() {
  [ -n "$FERRY_PID" ] || return 0
  kill -TERM "$FERRY_PID" 2>/dev/null
  local i; for i in $(seq 300); do kill -0 "$FERRY_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$FERRY_PID" 2>/dev/null && kill -KILL "$FERRY_PID"
  wait "$FERRY_PID" 2>/dev/null; FERRY_PID=""
}
trap 'ferry_stop' EXIT
wait_for() { # DESCRIPTION COMMAND...: polls every 20 ms until COMMAND succeeds; dies when ferry exits or on timeout
  local what="$1" deadline=$((SECONDS + TIMEOUT)); shift
  until "$@"; do
    kill -0 "$FERRY_PID" 2>/dev/null || die "ferry exited while waiting for $what: $(tail -3 "$FERRY_LOG_DIR/console.log")"
    [ $SECONDS -lt $deadline ] || die "no $what within ${TIMEOUT}s"
    sleep 0.02
  done
}
streaming() { grep -q 'streaming from slot' "$FERRY_LOG_DIR/stream.log" 2>/dev/null; }
MARK=0
marker_arrived() { [ "$(dst "SELECT 1 FROM profile_marker WHERE id = $MARK" 2>/dev/null)" = 1 ]; }
marker() { MARK=$((MARK + 1)); src "INSERT INTO profile_marker VALUES ($MARK)" >/dev/null; }
row_changes() { src "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables"; }
# CPU seconds per thread, grouped by the thread's role: JIT compilers, GC, ferry's named threads, the rest
thread_cpu() {
  python3 - "$1" <<'EOF'
import os, re, sys
pid, tick, groups = sys.argv[1], os.sysconf("SC_CLK_TCK"), {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        data = open(f"/proc/{pid}/task/{tid}/stat").read()
    except OSError:
        continue
    name = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    name = re.sub(r"\d+$", "", name).strip().rstrip("#-")
    if name.startswith(("C1 Compiler", "C2 Compiler")): name = name[:2] + " JIT"
    groups[name] = groups.get(name, 0) + (int(rest[11]) + int(rest[12])) / tick
print(" ".join(f"{k.replace(' ', '_')}={v:.2f}" for k, v in groups.items()))
EOF
}

# ---------------------------------------------------------------- setup (once per --work)
for f in "${FERRIES[@]}"; do [ -x "$f" ] || die "no ferry launcher at $f"; done
mkdir -p "$WORK/pg"; [ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
init_server "$WORK/pg/src" "$SRC_PORT"
init_server "$WORK/pg/dst" "$DST_PORT"
# a change of the setup below takes a new database: its version is kept with the scale
SETUP="$SCALE v2"
if [ "$(src "SELECT setup FROM profile_meta" 2>/dev/null)" != "$SETUP" ]; then
  log "building pgbench at scale $SCALE and a fresh migration"
  src "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" postgres >/dev/null 2>&1
  src "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres && src "CREATE DATABASE $DB" postgres || die "cannot create the source database"
  dst "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres && dst "CREATE DATABASE $DB" postgres || die "cannot create the target database"
  pgbench -i -q -s "$SCALE" -p "$SRC_PORT" "$DB" >>"$LOG" 2>&1 || die "pgbench -i failed"
  src "CREATE TABLE profile_marker (id int PRIMARY KEY); CREATE TABLE profile_bulk (id int PRIMARY KEY, v text);
       CREATE TABLE profile_meta AS SELECT '$SETUP' AS setup" >/dev/null
  rm -rf "$WORK/ferry-work"
  ferry_start "${FERRIES[0]}" copy
  wait_for "initial copy and streaming" streaming
  marker; wait_for "first marker" marker_arrived
  ferry_stop
fi
MARK=$(src "SELECT coalesce(max(id), 0) FROM profile_marker")
# A launcher's first start after a build makes its class-data sharing archive in the background: not while measuring.
for f in "${FERRIES[@]}"; do
  "$f" --version >/dev/null 2>&1
  for i in $(seq 600); do ps -eo args | grep -q '^java -Xshare:dump' || break; sleep 0.1; done
done
# Whatever an interrupted earlier call left in the slot is applied now, unmeasured.
log "draining what the slot holds from before"
ferry_start "${FERRIES[0]}" drain
marker; wait_for "the slot drained" marker_arrived
ferry_stop

# ---------------------------------------------------------------- runs
printf 'label\trun\trows\tstart_s\tstart_cpu\tapply_s\tapply_cpu\tcpu_per_M\tapply_per_M\tbulk_s\tbulk_cpu\tthreads\n' | tee "$OUT/results.tsv"
for r in $(seq "$RUNS"); do
  for i in "${!FERRIES[@]}"; do
    label="$(printf '%s' "$i" | tr 0-9 A-J)-r$r"
    before=$(row_changes)
    PGOPTIONS="-c synchronous_commit=off" pgbench -n -M prepared -c 2 -j 2 -t $((BACKLOG / 2)) -p "$SRC_PORT" "$DB" >>"$LOG" 2>&1 \
      || die "pgbench backlog failed"
    marker
    sleep 1.2 # statistics of the pgbench sessions are flushed at their exit
    rows=$(( $(row_changes) - before - 1 ))
    t0=$(now)
    ferry_start "${FERRIES[$i]}" "$label"
    wait_for "streaming" streaming
    t1=$(now); c1=$(cpu_of "$FERRY_PID"); threads1=$(thread_cpu "$FERRY_PID")
    wait_for "the marker after the backlog" marker_arrived
    t2=$(now); c2=$(cpu_of "$FERRY_PID"); threads=$(thread_cpu "$FERRY_PID")
    bulk_s=""; bulk_cpu=""
    if [ "$BULK" -gt 0 ]; then
      b0=$(cpu_of "$FERRY_PID")
      src "INSERT INTO profile_bulk SELECT g, md5(g::text) FROM generate_series(1, $BULK) g" >/dev/null; tb=$(now)
      marker; wait_for "the marker after the big transaction" marker_arrived
      bulk_s=$(python3 -c "print(f'{$(now) - $tb:.2f}')"); bulk_cpu=$(python3 -c "print(f'{$(cpu_of "$FERRY_PID") - $b0:.2f}')")
      src "TRUNCATE profile_bulk" >/dev/null; marker; wait_for "the marker after TRUNCATE" marker_arrived
    fi
    ferry_stop
    python3 - "$label" "$r" "$rows" "$t0" "$t1" "$t2" "$c1" "$c2" "$threads1" "$threads" "$bulk_s" "$bulk_cpu" <<'EOF' | tee -a "$OUT/results.tsv"
import sys
label, run, rows, t0, t1, t2, c1, c2, threads1, threads2, bulk_s, bulk_cpu = sys.argv[1:]
rows, t0, t1, t2, c1, c2 = int(rows), float(t0), float(t1), float(t2), float(c1), float(c2)
parse = lambda text: {k: float(v) for k, v in (kv.split("=") for kv in text.split())}
at_start, at_end = parse(threads1), parse(threads2)
# per thread group: CPU until streaming + CPU while applying; java = the main thread, which applies
threads = " ".join(f"{k}={at_start.get(k, 0):.2f}+{v - at_start.get(k, 0):.2f}"
                   for k, v in sorted(at_end.items(), key=lambda kv: -kv[1]) if v >= 0.02)
print(f"{label}\t{run}\t{rows}\t{t1 - t0:.2f}\t{c1:.2f}\t{t2 - t1:.2f}\t{c2 - c1:.2f}\t{c2 / rows * 1e6:.2f}\t{(c2 - c1) / rows * 1e6:.2f}\t{bulk_s}\t{bulk_cpu}\t{threads}")
EOF
  done
done
log "results in $OUT (ferry's logs per run there)"
