-- Benchmark dataset, loaded by bench/run.sh after `pgbench -i -s :scale` (psql -v scale=N).
-- Besides the pgbench tables: a wide table with TOASTed text/bytea/jsonb, a partitioned table, a table without a
-- primary key, helper tables for the streaming measurements, and big_orders, sized to be larger than all the
-- other tables together (indexes and TOAST included).
\set ON_ERROR_STOP on

-- ~14 KB per row: 8 KB text, 4 KB bytea (random, so TOAST cannot compress it away), ~2.5 KB jsonb.
CREATE TABLE wide_docs (
    id bigint PRIMARY KEY,
    title text NOT NULL,
    body text,
    blob bytea,
    doc jsonb,
    created_at timestamptz NOT NULL
);
INSERT INTO wide_docs
SELECT i,
       'document ' || i,
       (SELECT string_agg(md5(i::text || ':' || k || ':' || random()::text), ' ') FROM generate_series(1, 240) k),
       (SELECT decode(string_agg(md5(random()::text || i || k), ''), 'hex') FROM generate_series(1, 256) k),
       jsonb_build_object('id', i, 'n', i % 97,
                          'tags', (SELECT jsonb_agg(md5(k::text || ':' || i)) FROM generate_series(1, 64) k)),
       timestamptz '2024-01-01' + i * interval '1 minute'
FROM generate_series(1, 1000 * :scale) i;
CREATE INDEX wide_docs_created_at ON wide_docs (created_at);

-- Partitioned by quarter.
CREATE TABLE events (
    id bigint NOT NULL,
    happened_at timestamptz NOT NULL,
    account int NOT NULL,
    kind text NOT NULL,
    payload text,
    PRIMARY KEY (id, happened_at)
) PARTITION BY RANGE (happened_at);
CREATE TABLE events_2024q1 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-04-01');
CREATE TABLE events_2024q2 PARTITION OF events FOR VALUES FROM ('2024-04-01') TO ('2024-07-01');
CREATE TABLE events_2024q3 PARTITION OF events FOR VALUES FROM ('2024-07-01') TO ('2024-10-01');
CREATE TABLE events_2024q4 PARTITION OF events FOR VALUES FROM ('2024-10-01') TO ('2025-01-01');
INSERT INTO events
SELECT i,
       timestamptz '2024-01-01' + (i % 365) * interval '1 day' + (i % 86400) * interval '1 second',
       1 + i % (100000 * :scale),
       (ARRAY['view', 'click', 'buy', 'refund'])[1 + i % 4],
       md5(i::text)
FROM generate_series(1, 100000 * :scale) i;
CREATE INDEX events_account ON events (account);

-- No primary key, no replica identity.
CREATE TABLE audit_log (
    at timestamptz NOT NULL,
    actor text,
    action text,
    detail text
);
INSERT INTO audit_log
SELECT timestamptz '2024-01-01' + i * interval '1 second', 'user' || (i % 1000),
       (ARRAY['login', 'logout', 'update', 'delete'])[1 + i % 4], md5(i::text) || md5((i + 1)::text)
FROM generate_series(1, 100000 * :scale) i;
CREATE INDEX audit_log_at ON audit_log (at);

-- Helpers for the streaming measurements (empty at copy time).
CREATE TABLE bench_marker (id bigint PRIMARY KEY, note text, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE bench_lag (id bigserial PRIMARY KEY, src_ts timestamptz NOT NULL DEFAULT clock_timestamp(), dst_ts timestamptz);
CREATE TABLE bench_bulk (id bigint PRIMARY KEY, v text);

-- The table larger than all others together.
CREATE TABLE big_orders (
    id bigserial PRIMARY KEY,
    account int NOT NULL,
    amount numeric(12, 2) NOT NULL,
    status text NOT NULL,
    note text,
    created_at timestamptz NOT NULL
);
CREATE INDEX big_orders_account ON big_orders (account);
VACUUM ANALYZE;
SELECT sum(pg_total_relation_size(c.oid)) AS others
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'big_orders' \gset
INSERT INTO big_orders (account, amount, status, note, created_at)
SELECT 1 + i % 100000, (i % 100000) / 100.0, (ARRAY['new', 'paid', 'shipped', 'closed'])[1 + i % 4],
       'order note ' || md5(i::text), timestamptz '2024-01-01' + i * interval '1 second'
FROM generate_series(1, 20000) i;
VACUUM ANALYZE big_orders;
SELECT ceil(:others * 1.15 / (pg_total_relation_size('big_orders') / 20000.0))::bigint - 20000 AS more \gset
INSERT INTO big_orders (account, amount, status, note, created_at)
SELECT 1 + i % 100000, (i % 100000) / 100.0, (ARRAY['new', 'paid', 'shipped', 'closed'])[1 + i % 4],
       'order note ' || md5(i::text), timestamptz '2024-01-01' + i * interval '1 second'
FROM generate_series(20001, 20000 + :more) i;
VACUUM ANALYZE;
CHECKPOINT;
