-- Shape `timescale` of bench/run.sh (psql -v scale=N, on a server with shared_preload_libraries = 'timescaledb'):
-- mostly compressed hypertables, about 17.7 MB of raw (uncompressed) hypertable data, indexes included, per unit
-- of N (measured), so N = 60 gives more than 1 GB raw. 30 days of data from 2025-01-01, chunks of one day; every
-- chunk but the last two days' is compressed, as a compression policy would leave them.
--   metrics   hypertable, 100,000 rows per unit, 50 devices; compression segmentby device_id, orderby time DESC
--   readings  hypertable space-partitioned (4 hash partitions of sensor_id), 50,000 rows per unit, 200 sensors, no
--             primary key and REPLICA IDENTITY FULL; compression segmentby sensor_id, orderby time
--   metrics_hourly  continuous aggregate of metrics, refreshed
--   devices, sensors  plain tables
-- Policies (compression, retention, cagg refresh) exist but are paused: a job that compressed or dropped chunks
-- while a copy runs would make the runs measure different work.
\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE devices (id int PRIMARY KEY, name text NOT NULL, model text NOT NULL);
INSERT INTO devices SELECT i, 'device ' || i, (ARRAY['m1', 'm2', 'x9'])[1 + i % 3] FROM generate_series(1, 50) i;
CREATE TABLE sensors (id int PRIMARY KEY, location text NOT NULL);
INSERT INTO sensors SELECT i, 'room ' || (i % 40) FROM generate_series(1, 200) i;

CREATE TABLE metrics (
    time timestamptz NOT NULL,
    device_id int NOT NULL,
    cpu double precision,
    mem double precision,
    temp numeric(5, 2),
    status text NOT NULL,
    PRIMARY KEY (device_id, time)
);
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
CREATE INDEX metrics_status ON metrics (status, time DESC);

CREATE TABLE readings (
    time timestamptz NOT NULL,
    sensor_id int NOT NULL,
    value double precision,
    quality smallint,
    note text
);
SELECT create_hypertable('readings', by_range('time', interval '1 day'));
SELECT add_dimension('readings', by_hash('sensor_id', 4));
ALTER TABLE readings REPLICA IDENTITY FULL;
CREATE INDEX readings_sensor_time ON readings (sensor_id, time DESC);

-- 30 days: 2,000 points per device and unit, 250 per sensor and unit
INSERT INTO metrics
SELECT t, d, random() * 100, random() * 64, round((20 + random() * 60)::numeric, 2),
       (ARRAY['ok', 'ok', 'ok', 'warn', 'error'])[1 + (d + extract(minute FROM t)::int) % 5]
FROM generate_series(timestamptz '2025-01-01', timestamptz '2025-01-31' - interval '1 ms',
                     make_interval(secs => 1296.0 / :scale)) t,
     generate_series(1, 50) d;
INSERT INTO readings
SELECT t, s, random() * 1000, (random() * 100)::smallint, CASE WHEN s % 10 = 0 THEN 'calibrated ' || s END
FROM generate_series(timestamptz '2025-01-01', timestamptz '2025-01-31' - interval '1 ms',
                     make_interval(secs => 10368.0 / :scale)) t,
     generate_series(1, 200) s;
VACUUM ANALYZE metrics, readings;
-- NOTE: bench/run.sh reads raw_bytes from this table (the hypertables' size before compression).
CREATE TABLE bench_timescale_raw AS
SELECT hypertable_size('metrics') + hypertable_size('readings') AS raw_bytes;

ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                         timescaledb.compress_orderby = 'time DESC');
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor_id',
                          timescaledb.compress_orderby = 'time');
SELECT count(compress_chunk(c)) AS compressed FROM show_chunks('metrics', older_than => timestamptz '2025-01-29') c;
SELECT count(compress_chunk(c)) AS compressed FROM show_chunks('readings', older_than => timestamptz '2025-01-29') c;

CREATE MATERIALIZED VIEW metrics_hourly WITH (timescaledb.continuous) AS
SELECT time_bucket('1 hour', time) AS bucket, device_id, avg(cpu) AS cpu, max(temp) AS temp, count(*) AS n
FROM metrics GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('metrics_hourly', NULL, NULL);
-- As a user migrating with ferry does (preflight timescaledb-caggs, docs/timescaledb.md): while ferry's publication
-- covers TimescaleDB's chunk schema, a refresh's deletes on the materialized hypertable need a replica identity.
SELECT format('ALTER TABLE %I.%I REPLICA IDENTITY FULL', h.schema_name, h.table_name)
FROM _timescaledb_catalog.continuous_agg a JOIN _timescaledb_catalog.hypertable h ON h.id = a.mat_hypertable_id \gexec

SELECT add_compression_policy('metrics', interval '7 days');
SELECT add_compression_policy('readings', interval '7 days');
SELECT add_retention_policy('readings', interval '3 years');
SELECT add_continuous_aggregate_policy('metrics_hourly', start_offset => interval '3 days',
                                       end_offset => interval '1 hour', schedule_interval => interval '1 hour');
-- As a user migrating with ferry sets it (its preflight refuses otherwise, docs/timescaledb.md): a DELETE naming
-- only segmentby columns would drop compressed batches without decompressing them, invisible to logical decoding.
SELECT format('ALTER DATABASE %I SET timescaledb.enable_compressed_direct_batch_delete = off', current_database()) \gexec
SELECT count(*) AS paused FROM timescaledb_information.jobs j, LATERAL alter_job(j.job_id, scheduled => false) a
WHERE j.job_id >= 1000;
VACUUM ANALYZE;
CHECKPOINT;
