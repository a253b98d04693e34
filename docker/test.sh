#!/usr/bin/env bash
# End-to-end test of ferry's container image on a machine without a Docker engine or registry
# (../shared/containers/README.md): builds the image from docker/Dockerfile on a local Debian base with podman, starts
# two PostgreSQL 15 servers on 127.0.0.1, and runs a live migration with the image's own entrypoint, user and
# environment (`buildah run --isolation chroot`, which shares the host's network), the log directory mounted from
# the host at /logs:
#   preflight, default command, unwritable volume (exit 2) -> run in the background -> writes on the source
#   -> SIGTERM to the JVM (docker stop): exit 5 -> run again: resumes -> healthcheck and `ferry status` inside the image -> `ferry cutover` from a second container -> run exits 0
#   -> the per-stage logs read on the host -> every table's row count and md5 of its ordered rows, and every
#   sequence, compared between source and target.
# Any difference fails the script (non-zero exit). Needs podman, buildah, mmdebstrap (.ci/run installs them) and
# Debian's postgresql-15; run as root (the servers run as the postgres user) or as the user owning the servers.
# usage: docker/test.sh            environment: FERRY_SHARED (default ../shared), FERRY_CONTAINER_TEST_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
shared=${FERRY_SHARED:-../shared}
base=localhost/ferry-base:bookworm
image=localhost/ferry:test
pg=/usr/lib/postgresql/15/bin
out=$(realpath -m "${FERRY_CONTAINER_TEST_DIR:-agent/target/container-test}")   # kept after the run, for reading
password='Ct-s3cret-9x'   # the servers trust local logins and ignore it; no log or console may show it

step() { printf '\n== %s (%d s)\n' "$*" $(( $(date +%s) - started )); }
fail() { printf '\nFAIL container test: %s\n' "$*" >&2; exit 1; }

for tool in podman buildah psql "$pg/postgres" "$pg/pgbench"; do
  command -v "$tool" >/dev/null || fail "$tool is missing (podman, buildah: apt-get install podman buildah; postgresql-15)"
done

tmp=$(mktemp -d /tmp/ferry-container-test.XXXXXX)
chmod 755 "$tmp"
rm -rf "$out"; mkdir -p "$out/logs"
chmod 777 "$out/logs"   # the image's user (uid 10001) writes there, as it would into a volume chown'ed to it
# The JVM under buildah's process: PID 1 of the container, which `docker stop` signals.
jvm_of() {
  local pid=$1 child
  for child in $(pgrep -P "$pid" || true); do
    if [ "$(ps -o comm= -p "$child")" = java ]; then echo "$child"; return 0; fi
    jvm_of "$child" && return 0
  done
  return 1
}
pids=(); containers=(); servers=()
cleanup() {
  local pid c dir
  for pid in "${pids[@]}"; do   # buildah run leaves its command running when killed: stop the JVM first
    kill -KILL $(jvm_of "$pid") 2>/dev/null || true; kill "$pid" 2>/dev/null || true
  done
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  for dir in "${servers[@]}"; do as_postgres "$pg/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # so an interrupted test cleans up too

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Starts a PostgreSQL 15 server with logical replication on a free port of 127.0.0.1, in $port. Not in a $(...)
# subshell: the cleanup must see the server in $servers.
start_server() {
  local dir=$tmp/$1 attempt
  mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_postgres "$pg/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; fail "initdb $1"; }
  for attempt in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue   # taken
    if as_postgres "$pg/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" start \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c wal_level=logical -c fsync=off" >/dev/null; then
      servers+=("$dir/data"); return 0
    fi
  done
  cat "$dir/server.log" >&2; fail "could not start the $1 server"
}

sql() { local port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d app "$@"; }

# Waits up to $1 seconds for a command to succeed; fails the test naming $2 otherwise. Checks the agent is alive.
await() {
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@"; do
    [ -z "${agent:-}" ] || kill -0 "$agent" 2>/dev/null || { tail -n 30 "$console"; fail "ferry run exited while waiting for $what"; }
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within $seconds s"
    sleep 0.5
  done
}

step "base image $base ($shared/containers/base-image.sh; kept between runs)"
bash "$shared/containers/base-image.sh" "$base"

step "ferry.jar (./mvnw package: the image copies the jar built from this tree)"
./mvnw -q -B -ntp -DskipTests package
build_started=$(date +%s)
step "podman build -f docker/Dockerfile"
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
podman build --isolation chroot --format docker --build-arg BASE="$base" --build-arg PG_CLIENT=15 -t "$image" -f docker/Dockerfile . \
  >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log"; fail "podman build"; }
# The last run's image, untagged now: its layers below the jar stay cached in this one.
[ -z "$previous" ] || [ "$previous" = "$(podman image inspect --format '{{.Id}}' "$image")" ] || podman rmi "$previous" >/dev/null 2>&1 || true
build_seconds=$(( $(date +%s) - build_started ))
echo "built $image in $build_seconds s"
entrypoint=$(buildah inspect --type image --format '{{index .OCIv1.Config.Entrypoint 0}}' "$image")
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")
[[ $healthcheck == *healthcheck.sh* ]] || fail "the image has no HEALTHCHECK: $healthcheck"
[ "$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")" = ferry ] || fail "the image does not run as its own user"

step "two PostgreSQL 15 servers"
start_server source; source_port=$port
start_server target; target_port=$port
metrics_port=$(( source_port + 1 ))
while (exec 3<>"/dev/tcp/127.0.0.1/$metrics_port") 2>/dev/null; do metrics_port=$(( metrics_port + 1 )); done
source_uri="postgres://postgres:$password@127.0.0.1:$source_port/app"
target_uri="postgres://postgres:$password@127.0.0.1:$target_port/app"
echo "source on $source_port, target on $target_port"
for port in "$source_port" "$target_port"; do psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'CREATE DATABASE app'; done
"$pg/pgbench" -i -s 2 -q -h 127.0.0.1 -p "$source_port" -U postgres app 2>&1 | tail -n 1
sql "$source_port" <<'SQL'
CREATE TABLE public.app_event (id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb, amount numeric(12,2),
                               tags text[], raw bytea, at timestamptz NOT NULL DEFAULT '2026-01-01 00:00+00');
INSERT INTO public.app_event (kind, payload, amount, tags, raw)
SELECT (ARRAY['signup','order','refund'])[1 + g % 3], jsonb_build_object('n', g, 'note', repeat('é', g % 7)), g * 1.25,
       ARRAY['t' || g % 5, 'q'], decode(md5(g::text), 'hex')
FROM generate_series(1, 20000) g;
SQL

# One working container per `docker run`: ferry run, and a second one for the commands beside it.
agent_ctr=$(buildah from --name "ferry-test-run-$$" "$image"); containers+=("$agent_ctr")
tool_ctr=$(buildah from --name "ferry-test-tool-$$" "$image"); containers+=("$tool_ctr")
# buildah run mounts the image's VOLUME /logs over a -v at the same path (RUN semantics); docker run -v replaces it.
for ctr in "$agent_ctr" "$tool_ctr"; do buildah config --volume /logs- "$ctr"; done
in_image() {   # docker run --rm -e FERRY_SOURCE -e FERRY_TARGET -v logs:/logs IMAGE ARGS...
  local ctr=$1; shift
  buildah run --isolation chroot -e FERRY_SOURCE="$source_uri" -e FERRY_TARGET="$target_uri" -e FERRY_METRICS_PORT="$metrics_port" \
    -v "${log_volume:-$out/logs}:/logs" "$ctr" -- "$@"
}
start_agent() {   # docker run -d ... IMAGE run
  console=$out/run-$1.console
  in_image "$agent_ctr" "$entrypoint" run --jobs 2 >"$console" 2>&1 &
  agent=$!; pids+=("$agent")
}
streams() { [ -f "$out/logs/stream.log" ] && [ "$(grep -c 'streaming from slot' "$out/logs/stream.log")" -ge "$1" ]; }

step "ferry preflight inside the image; the image's default command"
in_image "$tool_ctr" "$entrypoint" preflight >"$out/preflight.console" 2>&1 || { cat "$out/preflight.console"; fail "ferry preflight"; }
grep -c "^PASS" "$out/preflight.console" | xargs printf '%s checks PASS\n'
default_cmd=$(buildah inspect --type image --format '{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' "$image")
# shellcheck disable=SC2086
in_image "$tool_ctr" "$entrypoint" $default_cmd | grep -q "Examples:" || fail "docker run IMAGE (no arguments) does not show the usage"

mkdir -p "$tmp/not-writable"; chmod 755 "$tmp/not-writable"   # a volume the image's user may not write to
set +e; log_volume=$tmp/not-writable in_image "$tool_ctr" "$entrypoint" run >"$out/not-writable.console" 2>&1; code=$?; set -e
[ "$code" = 2 ] && grep -q "cannot write the logs to /logs" "$out/not-writable.console" \
  || { cat "$out/not-writable.console"; fail "a log volume ferry may not write to: exit $code, expected 2 and the fix"; }
echo "a log volume it may not write to: exit code 2, $(grep -m1 'fix:' "$out/not-writable.console" | cut -c1-100)"

step "ferry run inside the image, logs on the host in $out/logs"
start_agent 1
await 180 "the copy to finish and the stream to start (stream.log)" streams 1
grep -h "copied\|phase:" "$out/logs/ferry.log" | tail -n 3

step "writes on the source while ferry streams; SIGTERM to the JVM (docker stop)"
"$pg/pgbench" -n -T 8 -c 2 -h 127.0.0.1 -p "$source_port" -U postgres app >"$tmp/pgbench.out" 2>&1 &
pgbench=$!; pids+=("$pgbench")
sql "$source_port" -c "INSERT INTO public.app_event (kind, payload) SELECT 'late', jsonb_build_object('g', g) FROM generate_series(1, 500) g" \
  -c "UPDATE public.app_event SET amount = amount + 1, tags = array_append(tags, 'upd') WHERE id % 10 = 0" \
  -c "DELETE FROM public.app_event WHERE id % 97 = 0"
jvm=$(jvm_of "$agent") || fail "no java process under the agent's buildah run"
parent=$(ps -o comm= -p "$(ps -o ppid= -p "$jvm" | tr -d ' ')")
[ "$parent" != bash ] && [ "$parent" != sh ] || fail "a shell stands between the container and the JVM ($parent): signals would not reach it"
sleep 2   # let the stream apply some of the writes before the stop (no synchronisation depends on it)
kill -TERM "$jvm"
set +e; wait "$agent"; code=$?; set -e
[ "$code" = 5 ] || { tail -n 20 "$console"; fail "SIGTERM: ferry run exited with $code, expected 5 (interrupted, resumable)"; }
grep -q "stopping on a signal" "$console" || fail "SIGTERM: the console does not say ferry is stopping"
echo "SIGTERM: ferry run stopped with exit code 5"

step "ferry run again: resumes"
start_agent 2
await 120 "the second run to resume streaming" streams 2
grep -q "resuming the migration" "$out/logs/ferry.log" || fail "the second run did not resume"
wait "$pgbench" || { cat "$tmp/pgbench.out"; fail "pgbench"; }
sql "$source_port" -c "UPDATE public.app_event SET payload = payload || '{\"after\": true}' WHERE id % 7 = 0" \
  -c "INSERT INTO public.app_event (kind) VALUES ('last')"
grep -h "number of transactions actually processed" "$tmp/pgbench.out"

step "healthcheck and ferry status inside the image"
health=$(in_image "$tool_ctr" /opt/ferry/healthcheck.sh) || fail "healthcheck failed: $health"
echo "healthcheck: $health"
[[ $health == *'"phase":"stream"'* ]] || fail "healthcheck: /status does not show the stream phase: $health"
status=$(in_image "$tool_ctr" ferry status 2>&1) || fail "ferry status failed: $status"
echo "$status"
grep -q "^phase  *stream" <<<"$status" || fail "ferry status does not show the stream phase"

step "ferry cutover from a second container"
in_image "$tool_ctr" "$entrypoint" cutover --timeout 3m >"$out/cutover.console" 2>&1 || { cat "$out/cutover.console"; fail "ferry cutover"; }
cat "$out/cutover.console"
await 60 "ferry run to exit after the cutover" eval '! kill -0 "$agent" 2>/dev/null'
set +e; wait "$agent"; code=$?; set -e
[ "$code" = 0 ] || { tail -n 30 "$console"; fail "ferry run exited with $code after the cutover"; }

step "per-stage logs on the host"
for stage in ferry preflight schema snapshot stream cutover; do
  file=$out/logs/$stage.log
  [ -s "$file" ] || fail "$file is missing or empty"
  [ "$(stat -c %u "$file")" = 10001 ] || fail "$file was not written by the image's user (uid 10001)"
  printf '%-14s %6d lines  %s\n' "$stage.log" "$(wc -l <"$file")" "$(tail -n 1 "$file" | cut -c1-110)"
done
grep -q "drained to" "$out/logs/stream.log" || fail "stream.log does not show the cutover's drain"
if grep -rl -- "$password" "$out" >/dev/null; then fail "the password appears in $(grep -rl -- "$password" "$out" | tr '\n' ' ')"; fi
if grep -n $'^\tat ' "$out"/*.console; then fail "a stack trace on ferry's console"; fi

step "source and target compared"
tables="SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'ferry') ORDER BY 1"
[ "$(sql "$source_port" -c "$tables")" = "$(sql "$target_port" -c "$tables")" ] || fail "the target's tables differ from the source's"
differences=0
for table in $(sql "$source_port" -c "$tables"); do
  digest="SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '-') FROM $table t"
  on_source=$(sql "$source_port" -c "$digest"); on_target=$(sql "$target_port" -c "$digest")
  if [ "$on_source" = "$on_target" ]; then
    printf '  same  %-28s %s\n' "$table" "$on_source"
  else
    printf '  DIFF  %-28s source %s, target %s\n' "$table" "$on_source" "$on_target"; differences=$((differences + 1))
  fi
done
sequences="SELECT format('%I.%I', schemaname, sequencename) || ' ' || coalesce(last_value, 0) FROM pg_sequences ORDER BY 1"
[ "$(sql "$source_port" -c "$sequences")" = "$(sql "$target_port" -c "$sequences")" ] \
  || { differences=$((differences + 1)); echo "  DIFF  sequences"; }
[ "$differences" = 0 ] || fail "$differences differences between source and target"
[ "$(sql "$source_port" -c "SELECT count(*) FROM pg_replication_slots")" = 0 ] || fail "a replication slot is left on the source"

printf '\nPASS container test in %d s (image build %d s); logs in %s\n' $(( $(date +%s) - started )) "$build_seconds" "$out"
