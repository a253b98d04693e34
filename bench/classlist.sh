#!/usr/bin/env bash
# Regenerates agent/src/main/cds/ferry.classlist, the classes the launcher's class-data sharing archive holds, from the
# two ways ferry starts: a new migration through its cutover, and a restart that applies a backlog (the resume path).
# Both log in with scram-sha-256, as real servers do, so the driver's SCRAM and SASLprep classes are in the list.
# Uses bench/profile-apply.sh's servers (made on first use). Run after a build: ./mvnw -q -DskipTests package.
# Options: --src-port N --dst-port N --work DIR, passed to profile-apply.sh (defaults: its own).
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
SRC_PORT=55441; DST_PORT=55442; WORK=/tmp/ferry-profile-apply
while [ $# -gt 0 ]; do
  case "$1" in
    --src-port) SRC_PORT="$2"; shift 2 ;; --dst-port) DST_PORT="$2"; shift 2 ;; --work) WORK="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export PATH=/usr/lib/postgresql/15/bin:$PATH PGPASSWORD=bench PGUSER=bench PGHOST=127.0.0.1
OUT="$(mktemp -d)"
# -Xshare:off: every class is listed as loaded, whatever an older archive holds.
DUMP="-Xshare:off -XX:DumpLoadedClassList"

# A restart applying a 20,000-transaction backlog (its last start is the measured one, which overwrites the file).
FERRY_JAVA_OPTS="$DUMP=$OUT/resume.txt" "$BENCH_DIR/profile-apply.sh" --runs 1 --backlog 20000 --src-port "$SRC_PORT" \
  --dst-port "$DST_PORT" --work "$WORK" >"$OUT/profile.log" 2>&1

# A new migration of the same source into a database of its own, with changes while it streams, then its cutover.
SRC="postgres://bench:bench@127.0.0.1:$SRC_PORT/bench"; DST="postgres://bench:bench@127.0.0.1:$DST_PORT/classlist"
psql -X -q -p "$DST_PORT" -d postgres -c "DROP DATABASE IF EXISTS classlist WITH (FORCE)" -c "CREATE DATABASE classlist"
FERRY_JAVA_OPTS="$DUMP=$OUT/new.txt" "$REPO/ferry" run --source "$SRC" --target "$DST" --jobs 2 --log-dir "$OUT/logs" \
  --work-dir "$OUT/work" --slot ferry_classlist >"$OUT/run.log" 2>&1 &
run=$!
for _ in $(seq 1200); do grep -q 'streaming from slot' "$OUT/logs/stream.log" 2>/dev/null && break; kill -0 $run; sleep 0.2; done
PGOPTIONS="-c synchronous_commit=off" pgbench -n -c 2 -j 2 -t 5000 -p "$SRC_PORT" bench >/dev/null 2>&1
psql -X -q -p "$SRC_PORT" -d bench -c "INSERT INTO profile_bulk SELECT g, md5(g::text) FROM generate_series(1, 300000) g" -c "TRUNCATE profile_bulk"
"$REPO/ferry" cutover --source "$SRC" --target "$DST" --timeout 5m >"$OUT/cutover.log" 2>&1
wait $run
psql -X -q -p "$DST_PORT" -d postgres -c "DROP DATABASE classlist WITH (FORCE)"

# The new migration's list as it is (a line twice is two call sites of one lambda, each archived), then the lines only
# the restart loaded.
awk 'NR == FNR { print; seen[$0]; next } !($0 in seen)' "$OUT/new.txt" "$OUT/resume.txt" >"$REPO/agent/src/main/cds/ferry.classlist"
echo "$(grep -vc '^[#@]' "$REPO/agent/src/main/cds/ferry.classlist") classes in agent/src/main/cds/ferry.classlist (logs in $OUT)"
