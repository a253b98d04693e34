#!/usr/bin/env bash
# ferry benchmark harness: ferry vs pgcopydb vs pg_dump|pg_restore (initial copy) and vs native logical
# replication (apply, lag), plus ferry's memory, on one or more shapes of database; on TimescaleDB, ferry's copy vs
# the restore path of the live-migration FAQ. See --help. Not part of ./mvnw verify.
set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
FERRY_BIN="$REPO/ferry"
UTIL="$BENCH_DIR/lib/util.py"
PGBIN=/usr/lib/postgresql/15/bin
export PATH="$PGBIN:$PATH"

# ---------------------------------------------------------------- options
SHAPES=bench
SCALE=""          # per shape unless given: see shape_default_scale
RUNS=3
JOBS=2
BACKLOG=200000
LAG_RATE=500
LAG_SECONDS=60
BULK_ROWS=5000000
HUGE_MB=50
SRC_PORT=55432
DST_PORT=55433
WORK="$BENCH_DIR/work"
SECTIONS=""       # per shape unless given: see shape_default_sections
TOOLS="ferry,pgcopydb,pgdump,native,tsdump"
TIMESCALEDB_INSTALL="${TIMESCALEDB_INSTALL:-$REPO/../shared/timescaledb/install.sh}"
TIMEOUT=1800
WRITE_DOCS=1
BUILD=1
INSTALL=1
REUSE_DATA=0
KEEP_SERVERS=0
FERRY_HEAP="${FERRY_HEAP:--Xmx256m}" # extra JVM options may be added through the environment, e.g. a JFR recording
COMMAND_LINE="bench/run.sh $*"

usage() {
  cat <<EOF
Usage: bench/run.sh [options]

Starts two local PostgreSQL 15 servers (127.0.0.1:$SRC_PORT source, 127.0.0.1:$DST_PORT target, data under
bench/work/), builds the dataset of each --shape and measures, --runs times each:

  copy    initial copy (schema + data + indexes and constraints, $JOBS jobs): ferry vs pgcopydb clone vs
          pg_dump -Fd | pg_restore (timescale shape: ferry vs the FAQ's pg_dump -Fd, timescaledb_pre_restore(),
          catalog restored serially, the rest with pg_restore -j2, timescaledb_post_restore())
          wall time, MB/s (source database size / wall), CPU seconds of source server, target server, tool;
          every peer's target checked against the source (row counts; timescale: also compressed chunks)
  stream  per consumer (ferry, native CREATE SUBSCRIPTION), on a fresh target:
          apply: a backlog of --backlog pgbench TPC-B transactions made while the consumer is stopped,
                 seconds to catch up, transactions/s, row changes/s
          lag:   pgbench -R --lag-rate for --lag-seconds while streaming, p50/p99 lag in seconds and bytes
          bulk:  one source transaction inserting --bulk-rows rows, seconds until visible on the target
          ferry's peak heap (GC log) and RSS (VmHWM) in each window
  huge    ferry copies a table with --huge-mb MB values (peak heap, RSS)

Shapes (databases bench, bench_pgbench, bench_toast, bench_timescale on the source):
  bench      pgbench tables at --scale plus a wide TOASTed table, a partitioned table, a table without primary key
             and big_orders, larger than all others together; about 130 MB per unit (default scale 10)
  pgbench    plain pgbench -i -s --scale: one table holds 95% of it; about 15 MB per unit (default scale 60)
  toast      one wide table of 2-20 kB documents stored in TOAST plus a few small tables with foreign keys, at least
             as big as pgbench at the same scale; about 16 MB per unit (default scale 60)
  timescale  TimescaleDB: two hypertables (one space-partitioned, no primary key), most chunks compressed, a
             continuous aggregate, paused policies, plain tables; about 17.7 MB raw per unit (default scale 60:
             more than 1 GB raw). Servers run with shared_preload_libraries = 'timescaledb'.
The stream section needs pgbench's tables (shapes bench and pgbench); huge is independent of the shape.

Then prints one table per shape (median and min-max over runs, ratios ferry/peer) and writes docs/benchmarks.md.
Installs postgresql-15, postgresql-client-15, pgcopydb (and a JDK, python3) with apt-get when missing, and
TimescaleDB for the timescale shape with \$TIMESCALEDB_INSTALL (default ../shared/timescaledb/install.sh).

Options:
  --shape LIST       any of bench,pgbench,toast,timescale, measured one after the other (default $SHAPES)
  --scale N          size of every shape's dataset (default: per shape, above)
  --runs N           runs per measurement (default $RUNS)
  --sections LIST    any of copy,stream,huge (default: copy,stream,huge for bench, copy,stream for pgbench,
                     copy for toast and timescale)
  --tools LIST       any of ferry,pgcopydb,pgdump,native,tsdump (default $TOOLS; tsdump is the FAQ's path)
  --backlog N        transactions in the apply backlog (default $BACKLOG)
  --lag-rate TPS     pgbench -R while measuring lag (default $LAG_RATE)
  --lag-seconds S    duration of the lag measurement (default $LAG_SECONDS)
  --bulk-rows N      rows changed by the one big source transaction (default $BULK_ROWS)
  --huge-mb N        size of each value in the huge-values table (default $HUGE_MB)
  --src-port P / --dst-port P   server ports (default $SRC_PORT / $DST_PORT)
  --work DIR         servers' data and scratch space (default bench/work)
  --timeout S        give up waiting for any one step after S seconds (default $TIMEOUT)
  --reuse-data       keep a shape's source database of an earlier invocation if it has the same scale
  --keep-servers     leave both servers running at the end
  --no-docs          do not write docs/benchmarks.md
  --no-build         do not run ./mvnw package (use the existing agent/target/ferry.jar)
  --no-install       never call apt-get
  --ferry PATH       use this ferry launcher (e.g. of another checkout) as is, without building it
  -h, --help         this text

Results (raw rows, ferry's logs, GC logs) go to bench/results/<timestamp>/<shape>/.
Example, a quick check: bench/run.sh --scale 1 --runs 1 --backlog 20000 --lag-seconds 10 --bulk-rows 200000 --no-docs
The issues' full runs: bench/run.sh --shape bench,pgbench,toast --runs 3 --sections copy
                       bench/run.sh --shape timescale --runs 3
                       bench/run.sh --scale 5 --runs 2 --sections stream --backlog 100000 --bulk-rows 5000000 --lag-seconds 20
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --shape) SHAPES="$2"; shift 2 ;;
    --scale) SCALE="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --sections) SECTIONS="$2"; shift 2 ;;
    --tools) TOOLS="$2"; shift 2 ;;
    --backlog) BACKLOG="$2"; shift 2 ;;
    --lag-rate) LAG_RATE="$2"; shift 2 ;;
    --lag-seconds) LAG_SECONDS="$2"; shift 2 ;;
    --bulk-rows) BULK_ROWS="$2"; shift 2 ;;
    --huge-mb) HUGE_MB="$2"; shift 2 ;;
    --src-port) SRC_PORT="$2"; shift 2 ;;
    --dst-port) DST_PORT="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --reuse-data) REUSE_DATA=1; shift ;;
    --keep-servers) KEEP_SERVERS=1; shift ;;
    --no-docs) WRITE_DOCS=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --no-install) INSTALL=0; shift ;;
    --ferry) FERRY_BIN="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; BUILD=0; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in RUNS BACKLOG LAG_RATE LAG_SECONDS BULK_ROWS HUGE_MB SRC_PORT DST_PORT TIMEOUT; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || { echo "bench/run.sh: --${n,,} must be a whole number" >&2; exit 2; }
done
[ -z "$SCALE" ] || [[ "$SCALE" =~ ^[0-9]+$ ]] || { echo "bench/run.sh: --scale must be a whole number" >&2; exit 2; }
has() { [[ ",$1," == *",$2,"* ]]; }
for shape in ${SHAPES//,/ }; do
  case "$shape" in bench|pgbench|toast|timescale) ;; *) echo "bench/run.sh: unknown shape '$shape' (bench, pgbench, toast, timescale)" >&2; exit 2 ;; esac
  if has "$SECTIONS" stream && [ "$shape" != bench ] && [ "$shape" != pgbench ]; then
    echo "bench/run.sh: the stream section needs pgbench's tables: shape bench or pgbench, not '$shape'" >&2; exit 2
  fi
done
shape_default_scale() { case "$1" in bench) echo 10 ;; *) echo 60 ;; esac; }
shape_default_sections() { case "$1" in bench) echo copy,stream,huge ;; pgbench) echo copy,stream ;; *) echo copy ;; esac; }
shape_db() { if [ "$1" = bench ]; then echo bench; else echo "bench_$1"; fi; }

WORK="$(mkdir -p "$WORK" && cd "$WORK" && pwd)"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
RUN_OUT="$BENCH_DIR/results/$STAMP"
mkdir -p "$RUN_OUT"
LOG="$RUN_OUT/run.log"
OUT="$RUN_OUT"          # per shape from here on: RUN_OUT/<shape>, see use_shape
RESULTS="$OUT/results.tsv"

USER_NAME=bench
PASSWORD=bench
DB=bench
export PGPASSWORD="$PASSWORD" PGUSER="$USER_NAME" PGHOST=127.0.0.1 PGCONNECT_TIMEOUT=10
SRC_URI=""; DST_URI=""
SHAPE=""
use_shape() { # SHAPE: database, scale, sections and result directory of one shape
  SHAPE="$1"; DB=$(shape_db "$1")
  SRC_URI="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$SRC_PORT/$DB"
  DST_URI="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$DST_PORT/$DB"
  SHAPE_SCALE="${SCALE:-$(shape_default_scale "$1")}"
  SHAPE_SECTIONS="${SECTIONS:-$(shape_default_sections "$1")}"
  OUT="$RUN_OUT/$1"; mkdir -p "$OUT"
  RESULTS="$OUT/results.tsv"; : >"$RESULTS"
}

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { log "FATAL: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
# result SECTION TOOL RUN METRIC VALUE
result() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RESULTS"; }
fail() { log "$2 $1 run $3: FAILED ($4)"; result "$1" "$2" "$3" error "$4"; }

src() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -p "$SRC_PORT" -d "${2:-$DB}" -c "$1"; }
dst() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -p "$DST_PORT" -d "${2:-$DB}" -c "$1"; }

# ---------------------------------------------------------------- install, build
ensure_packages() {
  local need=()
  [ -x "$PGBIN/postgres" ] || need+=(postgresql-15)
  [ -x "$PGBIN/psql" ] && [ -x "$PGBIN/pg_dump" ] || need+=(postgresql-client-15)
  [ -x "$PGBIN/pgbench" ] || need+=(postgresql-15)
  command -v pgcopydb >/dev/null || need+=(pgcopydb)
  command -v python3 >/dev/null || need+=(python3)
  command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$INSTALL" = 1 ] || die "missing ${need[*]} and --no-install was given"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  log "installing ${need[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOG" 2>&1
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >>"$LOG" 2>&1 || die "apt-get install ${need[*]} failed (see $LOG)"
}

TSDB_CONTROL=/usr/share/postgresql/15/extension/timescaledb.control
ensure_timescaledb() {
  has "$SHAPES" timescale || return 0
  [ -f "$TSDB_CONTROL" ] && return 0
  [ "$INSTALL" = 1 ] || die "TimescaleDB is not installed ($TSDB_CONTROL missing) and --no-install was given"
  [ -f "$TIMESCALEDB_INSTALL" ] || die "TimescaleDB is not installed and $TIMESCALEDB_INSTALL is missing: set TIMESCALEDB_INSTALL to its install.sh"
  log "installing TimescaleDB with $TIMESCALEDB_INSTALL"
  bash "$TIMESCALEDB_INSTALL" >>"$LOG" 2>&1 || die "$TIMESCALEDB_INSTALL failed (see $LOG)"
}

FERRY_BROKEN=""
build_ferry() {
  has "$TOOLS" ferry || return 0
  if [ "$BUILD" = 1 ]; then
    log "building ferry (./mvnw -q -DskipTests package)"
    if ! (cd "$REPO" && ./mvnw -q -DskipTests package) >"$OUT/build.log" 2>&1; then
      local why; why=$(grep -m1 -E '\.java:\[|ERROR\] Failed' "$OUT/build.log" | sed "s|$REPO/||; s/^\[ERROR\] //")
      FERRY_BROKEN="build failed: ${why:-see build.log}"; FERRY_BROKEN="${FERRY_BROKEN:0:160}"
    fi
  fi
  [ -n "$FERRY_BROKEN" ] || [ -x "$FERRY_BIN" ] || FERRY_BROKEN="$FERRY_BIN missing"
  [ -n "$FERRY_BROKEN" ] || [ "$FERRY_BIN" != "$REPO/ferry" ] || [ -f "$REPO/agent/target/ferry.jar" ] || FERRY_BROKEN="agent/target/ferry.jar missing"
  [ -z "$FERRY_BROKEN" ] || { log "ferry unusable: $FERRY_BROKEN"; return 0; }
  # The first start after a build prepares the launcher's class-data sharing archive: once, as an install would,
  # not inside a timed run.
  "$FERRY_BIN" --version >>"$OUT/build.log" 2>&1 || true
}

# ---------------------------------------------------------------- servers
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

init_server() { # DIR PORT
  local dir="$1" port="$2"
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initdb $dir"
    mkdir -p "$dir"
    echo "$PASSWORD" >"$WORK/pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir" "$WORK/pwfile"; fi
    as_pg initdb -D "$dir" -U "$USER_NAME" --pwfile="$WORK/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOG" 2>&1 \
      || die "initdb $dir failed (see $LOG)"
    rm -f "$WORK/pwfile"
    cat >>"$dir/postgresql.conf" <<EOF
# bench/run.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 100
shared_buffers = 1GB
maintenance_work_mem = 256MB
wal_level = logical
max_wal_size = 8GB
checkpoint_timeout = 30min
max_replication_slots = 20
max_wal_senders = 20
max_worker_processes = 16
max_logical_replication_workers = 8
max_sync_workers_per_subscription = 2
logging_collector = off
EOF
    printf 'host all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n' >"$dir/pg_hba.conf"
  fi
}

# The timescale shape needs TimescaleDB preloaded on both servers; the other shapes are measured without it, so
# a server started with the wrong libraries for the shape is restarted.
server_preload() { if [ "$SHAPE" = timescale ]; then echo timescaledb; fi; }
start_server() { # DIR PORT
  local dir="$1" port="$2" want have
  want=$(server_preload)
  if as_pg pg_ctl -D "$dir" status >/dev/null 2>&1; then
    have=$(psql -X -At -p "$port" -d postgres -c "SHOW shared_preload_libraries" 2>/dev/null)
    [ "$have" = "$want" ] && return 0
    log "restarting server $dir (shared_preload_libraries '$have', the shape needs '$want')"
    as_pg pg_ctl -D "$dir" -m fast -w stop >>"$LOG" 2>&1
  fi
  log "starting server $dir on port $port${want:+ with $want}"
  as_pg pg_ctl -D "$dir" -l "$dir/server.log" -w -t 120 \
    -o "-c shared_preload_libraries='$want' -c timescaledb.telemetry_level=off" start >>"$LOG" 2>&1 \
    || die "server $dir did not start (see $dir/server.log)"
}

stop_servers() {
  for d in "$WORK/pg/src" "$WORK/pg/dst"; do
    [ -f "$d/postmaster.pid" ] && as_pg pg_ctl -D "$d" -m fast -w stop >>"$LOG" 2>&1
  done
}

postmaster_pid() { head -1 "$1/postmaster.pid"; }
server_cpu() { python3 "$UTIL" cpu "$(postmaster_pid "$1")"; }   # DIR -> CPU seconds so far
SRC_DIR=""; DST_DIR=""
cpu_mark() { CPU_SRC0=$(server_cpu "$SRC_DIR"); CPU_DST0=$(server_cpu "$DST_DIR"); }
cpu_record() { # SECTION TOOL RUN (after cpu_mark)
  result "$1" "$2" "$3" cpu_source_s "$(elapsed "$CPU_SRC0" "$(server_cpu "$SRC_DIR")")"
  result "$1" "$2" "$3" cpu_target_s "$(elapsed "$CPU_DST0" "$(server_cpu "$DST_DIR")")"
}

setup_servers() {
  mkdir -p "$WORK/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pg"; fi
  SRC_DIR="$WORK/pg/src"; DST_DIR="$WORK/pg/dst"
  init_server "$SRC_DIR" "$SRC_PORT"
  init_server "$DST_DIR" "$DST_PORT"
}
shape_servers() { start_server "$SRC_DIR" "$SRC_PORT"; start_server "$DST_DIR" "$DST_PORT"; }

# ---------------------------------------------------------------- dataset
# NOTE: the source database's comment, "bench/run.sh shape=S scale=N", is what --reuse-data compares.
dataset_tag() { echo "bench/run.sh shape=$SHAPE scale=$SHAPE_SCALE"; }
load_dataset() { # the shape's tables into the empty source database $DB
  local sqlrun=(psql -X -q -v ON_ERROR_STOP=1 -v scale="$SHAPE_SCALE" -p "$SRC_PORT" -d "$DB" -f)
  case "$SHAPE" in
    bench)
      pgbench -i -q -s "$SHAPE_SCALE" -p "$SRC_PORT" "$DB" >>"$LOG" 2>&1 || die "pgbench -i failed (see $LOG)"
      "${sqlrun[@]}" "$BENCH_DIR/sql/dataset.sql" >>"$LOG" 2>&1 || die "dataset.sql failed (see $LOG)" ;;
    pgbench)
      pgbench -i -q -s "$SHAPE_SCALE" -p "$SRC_PORT" "$DB" >>"$LOG" 2>&1 || die "pgbench -i failed (see $LOG)" ;;
    toast)
      "${sqlrun[@]}" "$BENCH_DIR/sql/toast.sql" >>"$LOG" 2>&1 || die "toast.sql failed (see $LOG)" ;;
    timescale)
      "${sqlrun[@]}" "$BENCH_DIR/sql/timescale.sql" >>"$LOG" 2>&1 || die "timescale.sql failed (see $LOG)" ;;
  esac
}

build_dataset() {
  local have
  have=$(src "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB'" postgres 2>/dev/null || true)
  if [ "$REUSE_DATA" = 1 ] && [ "$have" = "$(dataset_tag)" ]; then
    log "reusing source database $DB ($(dataset_tag))"
  else
    source_cleanup
    log "building dataset: $(dataset_tag)"
    src "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres && src "CREATE DATABASE $DB" postgres || die "cannot create source database"
    local t0; t0=$(now)
    load_dataset
    src "COMMENT ON DATABASE $DB IS '$(dataset_tag)'" >/dev/null
    log "dataset built in $(elapsed "$t0" "$(now)") s"
  fi
  DB_BYTES=$(src "SELECT pg_database_size(current_database())")
  RAW_BYTES=""   # the timescale shape's hypertables before compression
  [ "$SHAPE" = timescale ] && RAW_BYTES=$(src "SELECT raw_bytes FROM bench_timescale_raw")
  src "SELECT c.relname, pg_size_pretty(pg_total_relation_size(c.oid)), c.reltuples::bigint
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC" >"$OUT/tables.txt"
  log "source database: $((DB_BYTES / 1048576)) MB${RAW_BYTES:+ ($((RAW_BYTES / 1048576)) MB raw)}"
  content_counts src >"$OUT/source-counts.txt" || die "cannot count the source's rows"
}

# What a copy must reproduce, one line per item: every public table's row count (through a hypertable: all its
# chunks) and, on TimescaleDB, each hypertable's number of compressed chunks and each continuous aggregate's rows.
# pgbench_history and bench_* change during streaming, so the stream section's tables are left out.
content_counts() { # src|dst
  "$1" "SELECT relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', relname), false, true, '')))[1]::text
       FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname NOT LIKE 'bench\_%' ORDER BY 1" || return 1
  [ "$SHAPE" = timescale ] || return 0
  "$1" "SELECT 'compressed chunks of ' || h.hypertable_name,
               (SELECT count(*) FROM timescaledb_information.chunks c
                WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name AND c.is_compressed)
        FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = 'public' ORDER BY 1" || return 1
  "$1" "SELECT 'continuous aggregate ' || view_name,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', view_schema, view_name), false, true, '')))[1]::text
        FROM timescaledb_information.continuous_aggregates ORDER BY 1"
}
compressed_chunks() { "$1" "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = 'public' AND is_compressed" 2>/dev/null; }

# the target's content equals the source's (see content_counts)
verify_copy() {
  local got
  got=$(content_counts dst 2>&1)
  [ "$got" = "$(cat "$OUT/source-counts.txt")" ] || { diff <(echo "$got") "$OUT/source-counts.txt" | head -5 >&2; return 1; }
}

# ---------------------------------------------------------------- cleanup
source_cleanup() { # drops every slot and publication on the source, subscriptions and the database on the target
  for d in $(dst "SELECT datname FROM pg_database WHERE datname LIKE 'bench%' OR datname = 'hugevals'" postgres 2>/dev/null); do
    for s in $(dst "SELECT subname FROM pg_subscription" "$d" 2>/dev/null); do
      dst "ALTER SUBSCRIPTION $s DISABLE" "$d" >/dev/null 2>&1
      dst "ALTER SUBSCRIPTION $s SET (slot_name = NONE)" "$d" >/dev/null 2>&1
      dst "DROP SUBSCRIPTION $s" "$d" >/dev/null 2>&1
    done
  done
  src "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL" postgres >/dev/null 2>&1
  sleep 0.3
  src "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" postgres >/dev/null 2>&1
  for d in $(src "SELECT datname FROM pg_database WHERE datname LIKE 'bench%' OR datname = 'hugevals'" postgres 2>/dev/null); do
    for p in $(src "SELECT pubname FROM pg_publication" "$d" 2>/dev/null); do src "DROP PUBLICATION \"$p\"" "$d" >/dev/null 2>&1; done
  done
}

reset_target() { # DB
  local d="${1:-$DB}"
  for s in $(dst "SELECT subname FROM pg_subscription" "$d" 2>/dev/null); do
    dst "ALTER SUBSCRIPTION $s DISABLE" "$d" >/dev/null 2>&1
    dst "ALTER SUBSCRIPTION $s SET (slot_name = NONE)" "$d" >/dev/null 2>&1
    dst "DROP SUBSCRIPTION $s" "$d" >/dev/null 2>&1
  done
  dst "DROP DATABASE IF EXISTS $d WITH (FORCE)" postgres >/dev/null && dst "CREATE DATABASE $d" postgres >/dev/null
}

# ---------------------------------------------------------------- ferry process handling
FERRY_PID=""; FERRY_OUT=""; FERRY_GC=""; FERRY_ERR=""
ferry_start() { # LABEL SOURCE_URI TARGET_URI  (log dir and GC log per label)
  local label="$1" s="$2" t="$3" dir="$OUT/ferry/$1"
  mkdir -p "$dir"
  FERRY_OUT="$dir/console.log"; FERRY_GC="$dir/gc.log"
  date +%s.%N >"$dir/started_at"
  FERRY_JAVA_OPTS="$FERRY_HEAP -Xlog:gc:file=$FERRY_GC:uptime" \
    "$FERRY_BIN" run --source "$s" --target "$t" --jobs "$JOBS" --log-dir "$dir" \
      --work-dir "$WORK/ferry-work" --slot ferry_bench >>"$FERRY_OUT" 2>&1 &
  FERRY_PID=$!
}
ferry_alive() { [ -n "$FERRY_PID" ] && kill -0 "$FERRY_PID" 2>/dev/null; }
ferry_why() { # a one-line reason from ferry's console output
  local line
  line=$(grep -v '^\s*$' "$FERRY_OUT" 2>/dev/null | grep -iE 'error|fail|exception|cannot|could not' | head -1)
  [ -n "$line" ] || line=$(grep -v '^\s*$' "$FERRY_OUT" 2>/dev/null | tail -1)
  echo "${line:-no output}" | tr '\t' ' ' | cut -c1-200
}
ferry_phase() { dst "SELECT phase FROM ferry.migration" "${1:-$DB}" 2>/dev/null; }
# waits until ferry.migration.phase is PHASE; sets FERRY_ERR and fails when ferry exits or time runs out
# ferry logs each phase right after committing it, so the wait reads ferry.log: a psql every 0.1 s would cost the
# target a login and a backend each time, CPU taken from the run being measured. The database is asked once a
# second, for a phase reached before this start (a resumed run logs no phase change).
ferry_wait_phase() { # PHASE DB
  local deadline=$((SECONDS + TIMEOUT)) p="" i=0 log
  log="$(dirname "$FERRY_OUT")/ferry.log"
  while :; do
    grep -q "ferry phase: $1\$" "$log" 2>/dev/null && return 0
    if [ $((i % 20)) -eq 19 ]; then p=$(ferry_phase "${2:-$DB}"); [ "$p" = "$1" ] && return 0; fi
    if ! ferry_alive; then wait "$FERRY_PID" 2>/dev/null; FERRY_ERR="ferry exited (rc $?) in phase '${p:-none}': $(ferry_why)"; return 1; fi
    [ $SECONDS -lt $deadline ] || { FERRY_ERR="phase '$1' not reached within ${TIMEOUT}s (phase '${p:-none}')"; return 1; }
    i=$((i + 1))
    sleep 0.05
  done
}
ferry_stop() { # SIGTERM, then SIGKILL after 30 s
  ferry_alive || { FERRY_PID=""; return 0; }
  kill -TERM "$FERRY_PID" 2>/dev/null
  local i
  for i in $(seq 300); do ferry_alive || break; sleep 0.1; done
  ferry_alive && { log "ferry did not stop on SIGTERM, killing"; kill -KILL "$FERRY_PID" 2>/dev/null; }
  wait "$FERRY_PID" 2>/dev/null
  FERRY_PID=""
}
ferry_cutover() { # SECTION RUN DB SOURCE TARGET -> records cutover_s; stops ferry either way
  local t0 rc
  t0=$(now)
  FERRY_JAVA_OPTS="" timeout 600 "$FERRY_BIN" cutover --source "$4" --target "$5" --timeout 5m >>"$FERRY_OUT" 2>&1
  rc=$?
  if [ $rc = 0 ]; then
    result "$1" ferry "$2" cutover_s "$(elapsed "$t0" "$(now)")"
    local i; for i in $(seq 300); do ferry_alive || break; sleep 0.1; done
  else
    log "ferry cutover failed (rc $rc): $(tail -2 "$FERRY_OUT" | tr '\n' ' ' | cut -c1-200)"
    result "$1" ferry "$2" cutover_error "rc $rc"
  fi
  ferry_stop
}
# memory window: MEM_GC0 = GC log lines before the window; RSS high-water mark reset
mem_mark() {
  MEM_GC0=$(python3 "$UTIL" lines "$FERRY_GC")
  ferry_alive && echo 5 >"/proc/$FERRY_PID/clear_refs" 2>/dev/null
}
mem_record() { # SECTION RUN
  ferry_alive || return 0
  result "$1" ferry "$2" rss_peak_mb "$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$FERRY_PID/status")"
  local h; h=$(python3 "$UTIL" gcpeak "$FERRY_GC" "${MEM_GC0:-0}")
  [ -n "$h" ] && [ "$h" != "0 0" ] && { result "$1" ferry "$2" heap_peak_mb "${h% *}"; result "$1" ferry "$2" heap_live_mb "${h#* }"; }
  result "$1" ferry "$2" cpu_tool_s "$(elapsed "${TOOL_CPU0:-0}" "$(python3 "$UTIL" cpu "$FERRY_PID")")"
}

# ---------------------------------------------------------------- section 1: initial copy
copy_pgdump() { # RUN
  local r=$1 dir="$WORK/dump" m="$OUT/measure.txt" t0 wall
  rm -rf "$dir"; reset_target || { fail copy pgdump "$r" "cannot reset target"; return; }
  cpu_mark; t0=$(now)
  if ! python3 "$UTIL" measure "$m" -- bash -c "pg_dump -Fd -j $JOBS -f '$dir' '$SRC_URI' && pg_restore -j $JOBS -d '$DST_URI' '$dir'" \
       >>"$OUT/pgdump.log" 2>&1; then
    fail copy pgdump "$r" "pg_dump|pg_restore failed: $(tail -1 "$OUT/pgdump.log" | cut -c1-150)"; return
  fi
  wall=$(elapsed "$t0" "$(now)")
  copy_results pgdump "$r" "$wall" "$(cut -d' ' -f2 "$m")"
  rm -rf "$dir"
}

copy_pgcopydb() {
  local r=$1 dir="$WORK/pgcopydb" m="$OUT/measure.txt" t0 wall
  rm -rf "$dir"; reset_target || { fail copy pgcopydb "$r" "cannot reset target"; return; }
  cpu_mark; t0=$(now)
  if ! python3 "$UTIL" measure "$m" -- pgcopydb clone --source "$SRC_URI" --target "$DST_URI" --dir "$dir" \
       --table-jobs "$JOBS" --index-jobs "$JOBS" >>"$OUT/pgcopydb.log" 2>&1; then
    fail copy pgcopydb "$r" "pgcopydb failed: $(grep -m1 -E 'ERROR|FATAL' "$OUT/pgcopydb.log" | cut -c1-150)"; return
  fi
  wall=$(elapsed "$t0" "$(now)")
  copy_results pgcopydb "$r" "$wall" "$(cut -d' ' -f2 "$m")"
  rm -rf "$dir"
}

# The FAQ's path for TimescaleDB (docs/benchmarks.md, Method): pg_dump -Fd -j2; on the target the extension and
# timescaledb_pre_restore(); the _timescaledb_catalog schema restored serially, the rest with pg_restore -j2;
# timescaledb_post_restore(). The FAQ restores the catalog before anything else; TimescaleDB 2.25.2 keeps a regclass
# column in it (compression_settings.relid), which fails to load before its table exists, so pre-data comes first
# here, serially, as pg_restore -j runs it anyway.
copy_tsdump() { # RUN
  local r=$1 dir="$WORK/dump" m="$OUT/measure.txt" t0 wall
  local opts="--exit-on-error --no-tablespaces --no-owner --no-privileges"
  rm -rf "$dir"; reset_target || { fail copy tsdump "$r" "cannot reset target"; return; }
  cpu_mark; t0=$(now)
  # Each step's end is stamped into tsdump.log ("tsdump step <name> <epoch seconds>") for the breakdown.
  if ! python3 "$UTIL" measure "$m" -- bash -c "set -e
       step() { echo \"tsdump step \$1 \$(date +%s.%N)\"; }
       step start
       pg_dump -Fd -j $JOBS -f '$dir' '$SRC_URI'; step pg_dump
       psql -X -q -v ON_ERROR_STOP=1 -d '$DST_URI' -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' -c 'SELECT timescaledb_pre_restore()'; step pre_restore
       pg_restore -d '$DST_URI' --section=pre-data $opts '$dir'; step pre-data
       pg_restore -d '$DST_URI' --section=data --section=post-data --schema=_timescaledb_catalog $opts '$dir'; step catalog
       pg_restore -d '$DST_URI' -j $JOBS --section=data --section=post-data --exclude-schema=_timescaledb_catalog --disable-triggers $opts '$dir'; step data+post-data
       psql -X -q -v ON_ERROR_STOP=1 -d '$DST_URI' -c 'SELECT timescaledb_post_restore()'; step post_restore" >>"$OUT/tsdump.log" 2>&1; then
    fail copy tsdump "$r" "FAQ path failed: $(grep -m1 -E 'error|ERROR|FATAL' "$OUT/tsdump.log" | cut -c1-150)"; return
  fi
  wall=$(elapsed "$t0" "$(now)")
  copy_results tsdump "$r" "$wall" "$(cut -d' ' -f2 "$m")"
  rm -rf "$dir"
}

# On TimescaleDB the copy is done when the target's chunks are compressed as the source's are, whether ferry
# compresses them before it reports the stream phase or after.
# WANT_COMPRESSED is read before the clock starts: the source's chunks do not change during the copy.
await_compression() {
  local want="$WANT_COMPRESSED" deadline=$((SECONDS + TIMEOUT))
  until [ "$(compressed_chunks dst)" = "$want" ]; do
    ferry_alive || { FERRY_ERR="ferry exited before the target's chunks were compressed"; return 1; }
    [ $SECONDS -lt $deadline ] || { FERRY_ERR="target's compressed chunks $(compressed_chunks dst), not $want, after ${TIMEOUT}s"; return 1; }
    sleep 0.2
  done
}

copy_ferry() {
  local r=$1 t0 wall
  [ -z "$FERRY_BROKEN" ] || { fail copy ferry "$r" "$FERRY_BROKEN"; return; }
  source_cleanup; reset_target || { fail copy ferry "$r" "cannot reset target"; return; }
  rm -rf "$WORK/ferry-work"
  [ "$SHAPE" = timescale ] && WANT_COMPRESSED=$(compressed_chunks src)
  cpu_mark; t0=$(now)
  ferry_start "copy-r$r" "$SRC_URI" "$DST_URI"
  if ! ferry_wait_phase stream || { [ "$SHAPE" = timescale ] && ! await_compression; }; then
    fail copy ferry "$r" "$FERRY_ERR"; ferry_stop; source_cleanup; return
  fi
  wall=$(elapsed "$t0" "$(now)")
  TOOL_CPU0=0
  mem_record copy "$r"
  copy_results ferry "$r" "$wall" ""
  ferry_cutover copy "$r" "$DB" "$SRC_URI" "$DST_URI"
  source_cleanup
}

copy_results() { # TOOL RUN WALL TOOLCPU
  result copy "$1" "$2" wall_s "$3"
  [ -n "$RAW_BYTES" ] && result copy "$1" "$2" raw_mb_per_s "$(python3 -c "print(f'{$RAW_BYTES / 1048576 / $3:.1f}')")"
  result copy "$1" "$2" mb_per_s "$(python3 -c "print(f'{$DB_BYTES / 1048576 / $3:.1f}')")"
  cpu_record copy "$1" "$2"
  [ -n "$4" ] && result copy "$1" "$2" cpu_tool_s "$4"
  if verify_copy; then result copy "$1" "$2" verified yes; else result copy "$1" "$2" verified "row counts differ"; log "$1 run $2: row counts differ"; fi
  log "copy $1 run $2: $3 s"
}

# ---------------------------------------------------------------- section 2-4: streaming
MARK_ID=$(( $(date +%s) * 1000 ))
# inserts a marker row on the source; MARK = its id, MARK_LSN = the source WAL position after it
marker() {
  MARK_ID=$((MARK_ID + 1)); MARK=$MARK_ID
  MARK_LSN=$(src "INSERT INTO bench_marker (id, note) VALUES ($MARK, '$1'); SELECT pg_current_wal_lsn()" | tail -1)
}
# waits until the marker row is visible on the target; for ferry, also fails when the process dies
wait_marker() { # TOOL
  local deadline=$((SECONDS + TIMEOUT))
  while :; do
    [ "$(dst "SELECT 1 FROM bench_marker WHERE id = $MARK" 2>/dev/null)" = 1 ] && return 0
    if [ "$1" = ferry ] && ! ferry_alive; then wait "$FERRY_PID" 2>/dev/null; FERRY_ERR="ferry exited (rc $?): $(ferry_why)"; return 1; fi
    [ $SECONDS -lt $deadline ] || { FERRY_ERR="marker not on the target within ${TIMEOUT}s"; return 1; }
    sleep 0.05
  done
}
lsn2int() { local h=${1%/*} l=${1#*/}; echo $(( (16#$h << 32) + 16#$l )); }
row_changes() { src "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables"; }

lag_trigger() { # on the target: bench_lag.dst_ts = arrival time, also for replication sessions
  dst "CREATE OR REPLACE FUNCTION bench_lag_arrival() RETURNS trigger LANGUAGE plpgsql AS \$\$
       BEGIN NEW.dst_ts := clock_timestamp(); RETURN NEW; END \$\$;
       DROP TRIGGER IF EXISTS bench_lag_arrival ON bench_lag;
       CREATE TRIGGER bench_lag_arrival BEFORE INSERT ON bench_lag FOR EACH ROW EXECUTE FUNCTION bench_lag_arrival();
       ALTER TABLE bench_lag ENABLE ALWAYS TRIGGER bench_lag_arrival;" >/dev/null
}

native_prepare() { # schema, subscription with copy_data, wait for sync, disable
  reset_target || return 1
  pg_dump -s "$SRC_URI" | psql -X -q -v ON_ERROR_STOP=1 -p "$DST_PORT" -d "$DB" >>"$OUT/native.log" 2>&1 || return 1
  src "CREATE PUBLICATION bench_pub FOR ALL TABLES" >/dev/null || return 1
  dst "CREATE SUBSCRIPTION bench_sub CONNECTION 'host=127.0.0.1 port=$SRC_PORT dbname=$DB user=$USER_NAME password=$PASSWORD'
       PUBLICATION bench_pub WITH (copy_data = true)" >/dev/null 2>>"$OUT/native.log" || return 1
  local deadline=$((SECONDS + TIMEOUT))
  until [ "$(dst "SELECT count(*) > 0 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel")" = t ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  # let the apply worker catch up with what happened during the sync, then stop it
  marker synced; wait_marker native || return 1
  dst "ALTER SUBSCRIPTION bench_sub DISABLE" >/dev/null || return 1
  until [ "$(src "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# consumer control: start/stop for both kinds
consumer_start() { # TOOL RUN
  if [ "$1" = ferry ]; then ferry_start "stream-r$2" "$SRC_URI" "$DST_URI"; TOOL_CPU0=0
  else dst "ALTER SUBSCRIPTION bench_sub ENABLE" >/dev/null; fi
}

backlog() {
  local before
  before=$(row_changes)
  PGOPTIONS="-c synchronous_commit=off" pgbench -n -M prepared -c 2 -j 2 -t $((BACKLOG / 2)) -p "$SRC_PORT" "$DB" >>"$OUT/pgbench.log" 2>&1 \
    || { log "pgbench backlog failed (see $OUT/pgbench.log)"; return 1; }
  sleep 1.2   # statistics of the pgbench sessions are flushed at their exit
  BACKLOG_ROWS=$(( $(row_changes) - before ))
}

sample_lag_bytes() { # TOOL FILE STOPFILE: "bytes" every 0.5 s
  local cur applied
  while [ ! -f "$3" ]; do
    if [ "$1" = ferry ]; then
      # target first: the source position read after it can only be later, so the difference is never negative
      applied=$(dst "SELECT applied_lsn FROM ferry.migration" 2>/dev/null); cur=$(src "SELECT pg_current_wal_lsn()")
      [ -n "$cur" ] && [ -n "$applied" ] && echo $(( $(lsn2int "$cur") - $(lsn2int "$applied") )) >>"$2"
    else
      src "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication WHERE application_name = 'bench_sub'" >>"$2" 2>/dev/null
    fi
    sleep 0.5
  done
}

stream_session() { # TOOL RUN
  local tool=$1 r=$2 t0 secs lag0 f stop pid
  log "stream $tool run $r: preparing"
  source_cleanup
  if [ "$tool" = ferry ]; then
    [ -z "$FERRY_BROKEN" ] || { fail stream ferry "$r" "$FERRY_BROKEN"; return; }
    reset_target || { fail stream ferry "$r" "cannot reset target"; return; }
    rm -rf "$WORK/ferry-work"
    ferry_start "stream-r$r-copy" "$SRC_URI" "$DST_URI"
    ferry_wait_phase stream || { fail stream ferry "$r" "initial copy: $FERRY_ERR"; ferry_stop; source_cleanup; return; }
    marker synced
    wait_marker ferry || { fail stream ferry "$r" "first change: $FERRY_ERR"; ferry_stop; source_cleanup; return; }
    ferry_stop
  else
    native_prepare || { fail stream native "$r" "subscription setup failed (see native.log)"; source_cleanup; return; }
  fi
  lag_trigger || { fail stream "$tool" "$r" "cannot create lag trigger"; }

  # ---- apply: backlog while stopped
  log "stream $tool run $r: backlog of $BACKLOG transactions"
  backlog || { fail stream "$tool" "$r" "backlog generation failed"; source_cleanup; return; }
  marker backlog
  cpu_mark; t0=$(now)
  consumer_start "$tool" "$r"
  if ! wait_marker "$tool"; then
    fail apply "$tool" "$r" "${FERRY_ERR:-backlog not applied}"; [ "$tool" = ferry ] && ferry_stop; source_cleanup; return
  fi
  local t1; t1=$(now)
  secs=$(elapsed "$t0" "$t1")
  result apply "$tool" "$r" catchup_s "$secs"
  if [ "$tool" = ferry ]; then  # how much of it came before ferry started streaming (JVM start, resume)
    local ts; ts=$(grep -m1 'streaming from slot' "$OUT/ferry/stream-r$r/stream.log" 2>/dev/null | cut -c1-23)
    [ -n "$ts" ] && result apply ferry "$r" startup_s "$(elapsed "$t0" "$(date -u -d "$ts" +%s.%N)")"
  fi
  result apply "$tool" "$r" tx_per_s "$(python3 -c "print(f'{$BACKLOG / $secs:.0f}')")"
  result apply "$tool" "$r" rows_per_s "$(python3 -c "print(f'{$BACKLOG_ROWS / $secs:.0f}')")"
  cpu_record apply "$tool" "$r"
  # a consumer that skipped changes must not look fast: the balances the backlog changed are equal on both sides
  local balances; balances=$(src "SELECT sum(abalance), count(*) FROM pgbench_accounts")
  if [ "$(dst "SELECT sum(abalance), count(*) FROM pgbench_accounts")" = "$balances" ]; then result apply "$tool" "$r" verified yes
  else result apply "$tool" "$r" verified "pgbench_accounts differs"; log "apply $tool run $r: pgbench_accounts differs from the source"; fi
  log "apply $tool run $r: $secs s for $BACKLOG transactions ($BACKLOG_ROWS row changes)"
  if [ "$tool" = ferry ]; then
    mem_record apply "$r"
    local applied; applied=$(dst "SELECT applied_lsn FROM ferry.migration")
    [ -n "$applied" ] && [ "$(lsn2int "$applied")" -ge "$(lsn2int "$MARK_LSN")" ] \
      || log "note: ferry.migration.applied_lsn ($applied) is behind $MARK_LSN although the marker arrived"
  fi

  # ---- steady lag
  log "stream $tool run $r: pgbench -R $LAG_RATE for $LAG_SECONDS s"
  lag0=$(dst "SELECT coalesce(max(id), 0) FROM bench_lag")
  f="$OUT/lagbytes-$tool-r$r.txt"; stop="$OUT/.stop-sampler"; rm -f "$stop" "$f"
  [ "$tool" = ferry ] && { mem_mark; TOOL_CPU0=$(python3 "$UTIL" cpu "$FERRY_PID"); }
  cpu_mark
  sample_lag_bytes "$tool" "$f" "$stop" & pid=$!
  printf 'INSERT INTO bench_lag (src_ts) VALUES (clock_timestamp());\n' >"$WORK/lag.sql"
  local pgb="$OUT/pgbench-lag-$tool-r$r.log"
  pgbench -n -M prepared -c 4 -j 2 -R "$LAG_RATE" -T "$LAG_SECONDS" \
    -b tpcb-like@99 -f "$WORK/lag.sql@1" -p "$SRC_PORT" "$DB" >"$pgb" 2>&1 || log "pgbench -R failed"
  # the rate the source really ran at: on a busy host it falls short of -R, and a lower rate makes any lag look better
  local tps; tps=$(grep -m1 -oP 'tps = \K[0-9.]+(?= \(without)' "$pgb")
  [ -n "$tps" ] && result lag "$tool" "$r" source_tps "$tps"
  touch "$stop"; wait "$pid" 2>/dev/null
  marker lag
  if wait_marker "$tool"; then
    dst "SELECT extract(epoch FROM dst_ts - src_ts) FROM bench_lag WHERE id > $lag0 AND dst_ts IS NOT NULL" >"$OUT/lagsecs-$tool-r$r.txt"
    result lag "$tool" "$r" p50_s "$(python3 "$UTIL" pct 50 "$OUT/lagsecs-$tool-r$r.txt")"
    result lag "$tool" "$r" p99_s "$(python3 "$UTIL" pct 99 "$OUT/lagsecs-$tool-r$r.txt")"
    result lag "$tool" "$r" max_s "$(python3 "$UTIL" pct 100 "$OUT/lagsecs-$tool-r$r.txt")"
    result lag "$tool" "$r" p50_bytes "$(python3 "$UTIL" pct 50 "$f")"
    result lag "$tool" "$r" p99_bytes "$(python3 "$UTIL" pct 99 "$f")"
    result lag "$tool" "$r" markers "$(wc -l <"$OUT/lagsecs-$tool-r$r.txt")"
    cpu_record lag "$tool" "$r"
    [ "$tool" = ferry ] && mem_record lag "$r"
    log "lag $tool run $r: p50 $(python3 "$UTIL" pct 50 "$OUT/lagsecs-$tool-r$r.txt") s, p99 $(python3 "$UTIL" pct 99 "$OUT/lagsecs-$tool-r$r.txt") s"
  else
    fail lag "$tool" "$r" "${FERRY_ERR:-lag markers not applied}"; [ "$tool" = ferry ] && ferry_stop; source_cleanup; return
  fi

  # ---- one big source transaction
  log "stream $tool run $r: one transaction inserting $BULK_ROWS rows"
  src "TRUNCATE bench_bulk" >/dev/null; marker truncate; wait_marker "$tool" >/dev/null
  [ "$tool" = ferry ] && { mem_mark; TOOL_CPU0=$(python3 "$UTIL" cpu "$FERRY_PID"); }
  cpu_mark; t0=$(now)
  src "INSERT INTO bench_bulk SELECT g, md5(g::text) FROM generate_series(1, $BULK_ROWS) g" >/dev/null
  local t1; t1=$(now)
  marker bulk
  if wait_marker "$tool"; then
    secs=$(elapsed "$t1" "$(now)")
    result bulk "$tool" "$r" source_insert_s "$(elapsed "$t0" "$t1")"
    result bulk "$tool" "$r" visible_s "$secs"
    cpu_record bulk "$tool" "$r"
    local n; n=$(dst "SELECT count(*) FROM bench_bulk")
    if [ "$n" = "$BULK_ROWS" ]; then result bulk "$tool" "$r" verified yes
    else result bulk "$tool" "$r" verified "$n of $BULK_ROWS rows"; log "bulk $tool run $r: $n of $BULK_ROWS rows on the target"; fi
    [ "$tool" = ferry ] && mem_record bulk "$r"
    log "bulk $tool run $r: $secs s"
  else
    fail bulk "$tool" "$r" "${FERRY_ERR:-bulk transaction not applied}"; [ "$tool" = ferry ] && ferry_stop; source_cleanup; return
  fi
  src "TRUNCATE bench_bulk" >/dev/null; marker truncate2; wait_marker "$tool" >/dev/null

  # ---- finish
  if [ "$tool" = ferry ]; then ferry_cutover stream "$r" "$DB" "$SRC_URI" "$DST_URI"
  else dst "DROP SUBSCRIPTION bench_sub" >/dev/null; fi
  source_cleanup
}

# ---------------------------------------------------------------- ferry with huge values
huge_section() {
  local r=$1 s="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$SRC_PORT/hugevals" t="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$DST_PORT/hugevals" t0
  [ -z "$FERRY_BROKEN" ] || { fail huge ferry "$r" "$FERRY_BROKEN"; return; }
  if [ "$(src "SELECT count(*) FROM huge" hugevals 2>/dev/null)" != 4 ] || [ "$(src "SELECT mb FROM huge_meta" hugevals 2>/dev/null)" != "$HUGE_MB" ]; then
    log "building hugevals: 4 rows with $HUGE_MB MB values"
    src "DROP DATABASE IF EXISTS hugevals WITH (FORCE)" postgres >/dev/null; src "CREATE DATABASE hugevals" postgres >/dev/null
    local n=$((HUGE_MB * 1048576 / 16))
    src "CREATE TABLE huge (id int PRIMARY KEY, b bytea, t text);
         CREATE TABLE huge_meta AS SELECT $HUGE_MB AS mb;
         INSERT INTO huge SELECT 1, (SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, $n)), NULL;
         INSERT INTO huge SELECT 2, NULL, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, $n / 2));
         INSERT INTO huge SELECT 3, (SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, $n)), 'small';
         INSERT INTO huge SELECT 4, '\\x00', (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, $n / 2));" hugevals >/dev/null \
      || { fail huge ferry "$r" "cannot build hugevals"; return; }
  fi
  source_cleanup; reset_target hugevals || { fail huge ferry "$r" "cannot reset target"; return; }
  rm -rf "$WORK/ferry-work"
  cpu_mark; t0=$(now)
  ferry_start "huge-r$r" "$s" "$t"
  if ! ferry_wait_phase stream hugevals; then fail huge ferry "$r" "$FERRY_ERR"; ferry_stop; source_cleanup; return; fi
  result huge ferry "$r" wall_s "$(elapsed "$t0" "$(now)")"
  TOOL_CPU0=0; mem_record huge "$r"
  [ "$(dst "SELECT count(*) FROM huge WHERE (b IS NULL OR length(b) > 0) AND (t IS NULL OR length(t) > 0)" hugevals)" = 4 ] \
    && result huge ferry "$r" verified yes || result huge ferry "$r" verified "rows missing"
  log "huge ferry run $r: $(grep -P "^huge\tferry\t$r\t(wall_s|heap_peak_mb|rss_peak_mb)" "$RESULTS" | cut -f4,5 | tr '\n\t' ' =')"
  ferry_cutover huge "$r" hugevals "$s" "$t"
  source_cleanup
  reset_target hugevals
}

# ---------------------------------------------------------------- machine, report
machine_info() {
  {
    echo "date_utc=$(date -u '+%Y-%m-%d %H:%M')"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "nproc=$(nproc)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "os=$(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
    echo "postgresql=$(postgres --version | sed 's/postgres (PostgreSQL) //')"
    echo "pgcopydb=$(pgcopydb --version 2>/dev/null | grep -m1 'pgcopydb version' | sed 's/.*version //')"
    echo "java=$(java -version 2>&1 | head -1)"
    local fdir; fdir="$(dirname "$FERRY_BIN")"
    if git -C "$fdir" rev-parse HEAD >/dev/null 2>&1; then
      echo "ferry=$(git -C "$fdir" rev-parse --short HEAD) ($(git -C "$fdir" log -1 --format=%s | cut -c1-70))"
    else
      echo "ferry=$(cat "$fdir/.ferry-commit" 2>/dev/null || echo "$FERRY_BIN")"
    fi
    echo "shape=$SHAPE"
    echo "scale=$SHAPE_SCALE"
    echo "runs=$RUNS"
    echo "db_mb=$((DB_BYTES / 1048576))"
    [ -n "$RAW_BYTES" ] && echo "raw_mb=$((RAW_BYTES / 1048576))"
    [ "$SHAPE" = timescale ] && echo "timescaledb=$(src "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")"
    echo "backlog=$BACKLOG"
    echo "lag_rate=$LAG_RATE"
    echo "lag_seconds=$LAG_SECONDS"
    echo "bulk_rows=$BULK_ROWS"
    echo "huge_mb=$HUGE_MB"
    echo "jobs=$JOBS"
    echo "ferry_heap=$FERRY_HEAP"
    echo "command=$COMMAND_LINE"
    echo "sections=$SHAPE_SECTIONS"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$OUT/machine.txt"
}

cleanup_on_exit() {
  touch "$OUT/.stop-sampler" 2>/dev/null
  [ -n "$FERRY_PID" ] && ferry_stop
  if [ "$KEEP_SERVERS" = 0 ] && [ -n "$SRC_DIR" ]; then source_cleanup; stop_servers; fi
}
trap cleanup_on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- main
log "results in $RUN_OUT"
ensure_packages
ensure_timescaledb
build_ferry
setup_servers

measure_shape() { # the current shape's sections
  if has "$SHAPE_SECTIONS" copy; then
    local peers="pgcopydb pgdump"
    [ "$SHAPE" = timescale ] && peers=tsdump
    for r in $(seq "$RUNS"); do
      for tool in ferry $peers; do
        has "$TOOLS" "$tool" || continue
        log "$SHAPE: copy $tool run $r"
        "copy_$tool" "$r"
      done
    done
  fi
  if has "$SHAPE_SECTIONS" stream; then
    psql -X -q -v ON_ERROR_STOP=1 -p "$SRC_PORT" -d "$DB" -f "$BENCH_DIR/sql/stream.sql" >>"$LOG" 2>&1 || die "stream.sql failed (see $LOG)"
    for r in $(seq "$RUNS"); do
      for tool in ferry native; do
        has "$TOOLS" "$tool" && stream_session "$tool" "$r"
      done
    done
  fi
  if has "$SHAPE_SECTIONS" huge && has "$TOOLS" ferry; then
    for r in $(seq "$RUNS"); do huge_section "$r"; done
  fi
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
}

shape_dirs=()
for shape in ${SHAPES//,/ }; do
  use_shape "$shape"
  shape_servers
  build_dataset
  machine_info
  measure_shape
  shape_dirs+=("$OUT")
done

docs_arg=()
[ "$WRITE_DOCS" = 1 ] && docs_arg=(--docs "$REPO/docs/benchmarks.md")
python3 "$BENCH_DIR/lib/report.py" "${shape_dirs[@]}" "${docs_arg[@]}" | tee "$RUN_OUT/report.md"
log "done: $RUN_OUT"
