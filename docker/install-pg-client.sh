#!/bin/bash
# Image build step: makes sure pg_dump and pg_restore of major version $1 or newer are in the image. Does nothing when
# the base image has them (the local Debian base has postgresql-client-15); otherwise installs postgresql-client-$1
# from the PostgreSQL project's apt repository (PGDG), which has every supported version for Debian and Ubuntu.
set -euo pipefail
want=${1:?usage: install-pg-client.sh MAJOR}

newest_pg_dump() {
  local best=0 dump major
  for dump in $(command -v pg_dump 2>/dev/null) /usr/lib/postgresql/*/bin/pg_dump; do
    [ -x "$dump" ] || continue
    major=$("$dump" --version 2>/dev/null | sed -n 's/^pg_dump (PostgreSQL) \([0-9]*\).*/\1/p')
    [ -n "$major" ] && [ "$major" -gt "$best" ] && best=$major
  done
  echo "$best"
}

command -v java >/dev/null || { echo "install-pg-client: the base image has no java on PATH; use a Java 17 runtime image" >&2; exit 1; }
have=$(newest_pg_dump)
if [ "$have" -ge "$want" ]; then
  echo "install-pg-client: pg_dump $have already in the base image (need $want or newer)"
  exit 0
fi
echo "install-pg-client: installing postgresql-client-$want from apt.postgresql.org (base has pg_dump ${have/#0/none})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates postgresql-common >/dev/null
# The repository's own setup script (shipped with postgresql-common): adds the PGDG source and its signing key.
/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y >/dev/null
apt-get install -y -qq --no-install-recommends "postgresql-client-$want" >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*
have=$(newest_pg_dump)
[ "$have" -ge "$want" ] || { echo "install-pg-client: pg_dump $want is still missing" >&2; exit 1; }
echo "install-pg-client: pg_dump $have installed"
