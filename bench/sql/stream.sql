-- Tables the stream section of bench/run.sh writes to (empty at copy time); already part of the `bench` shape's
-- dataset.sql, added before the stream section to shapes that lack them.
\set ON_ERROR_STOP on
CREATE TABLE IF NOT EXISTS bench_marker (id bigint PRIMARY KEY, note text, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS bench_lag (id bigserial PRIMARY KEY, src_ts timestamptz NOT NULL DEFAULT clock_timestamp(), dst_ts timestamptz);
CREATE TABLE IF NOT EXISTS bench_bulk (id bigint PRIMARY KEY, v text);
