-- Fills the sample schema. The dollar-brace placeholders are replaced by SampleDatabase before the script runs.
-- Values are computed from the row number only (no random(), no now() in data that tests compare), so two
-- servers filled with the same size hold the same rows.

INSERT INTO app.customers (email, name, country, created_at)
SELECT 'customer' || i || '@example.com', 'Customer ' || i, (ARRAY['DE', 'FR', 'US', 'JP', 'BR'])[1 + i % 5],
       timestamptz '2023-01-01 00:00:00+00' + i * interval '37 minutes 11.5 seconds'
FROM generate_series(1, ${customers}) i;

INSERT INTO app.products (sku, name, price, stock)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, i * 1.25, i * 3
FROM generate_series(1, ${products}) i;

INSERT INTO app.orders (customer_id, status, ordered_on, total, shipping, tags, quantities, invoice_no, note)
SELECT 1 + i % ${customers},
       (ARRAY['new', 'paid', 'shipped', 'cancelled']::app.order_status[])[1 + i % 4],
       date '2023-01-01' + i % 1000,
       i * 3.17,
       ROW(i || ' Main Street', 'City ' || i % 17, lpad((i % 99999)::text, 5, '0'))::app.address,
       ARRAY['tag' || i % 3, 'tag ' || i % 5],
       CASE WHEN i % 4 <> 0 THEN ARRAY[i % 10, i % 7] END,
       CASE WHEN i % 2 = 0 THEN nextval('app.invoice_number_seq') END,
       CASE WHEN i % 3 = 0 THEN 'leave it at the door, it''s "fine"' END
FROM generate_series(1, ${orders}) i;

INSERT INTO app.order_lines (order_id, line_no, product_sku, quantity, unit_price)
SELECT o.id, l, 'SKU-' || lpad((1 + (o.id * l) % ${products})::text, 5, '0'), 1 + (o.id + l) % 5, (1 + (o.id * l) % 100) * 0.99
FROM app.orders o, generate_series(1, 2) l;

INSERT INTO app.all_types (id) VALUES (0);  -- every column NULL
INSERT INTO app.all_types
SELECT i,
       (i % 32767 - 16000)::smallint,
       i * 1000 - 500000,
       i::bigint * 1000000007 * CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END,
       CASE i % 8 WHEN 0 THEN 'NaN'::numeric WHEN 1 THEN ${numeric_infinity} WHEN 2 THEN ${numeric_minus_infinity}
                  WHEN 3 THEN 123456789012345678901234567890.123456789012345678901234567890 + i
                  WHEN 4 THEN -0.000000000000000000000000000001 * i
                  ELSE round(i * 3.14159265358979323846, 15) END,
       CASE i % 6 WHEN 0 THEN 'NaN'::real WHEN 1 THEN 'Infinity'::real WHEN 2 THEN '-Infinity'::real ELSE (i / 7.0)::real END,
       CASE i % 6 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-Infinity'::float8 WHEN 2 THEN 'Infinity'::float8
                  WHEN 3 THEN 1e-300::float8 * i ELSE (i / 3.0)::float8 END,
       CASE i % 10 WHEN 0 THEN NULL WHEN 1 THEN ''
                   ELSE 'text ' || i || E' with\ttab, newline\n, quote '' " and backslash \\ and émoji 🚢' END,
       left('varchar ' || i, 20),
       left(i::text, 5)::char(5),
       decode(md5(i::text), 'hex') || '\x00ff'::bytea,
       CASE i % 3 WHEN 0 THEN true WHEN 1 THEN false END,
       CASE WHEN i % 50 = 0 THEN 'infinity'::date ELSE date '2000-01-01' + i * 3 END,
       time '00:00:00' + i * interval '61.123456 seconds',
       ((time '00:00:00' + i * interval '59 seconds')::text || CASE WHEN i % 2 = 0 THEN '+05:30' ELSE '-08' END)::timetz,
       CASE WHEN i % 50 = 1 THEN 'infinity'::timestamp ELSE timestamp '2020-02-29 23:59:59.999999' + i * interval '1 hour 1 microsecond' END,
       CASE WHEN i % 50 = 2 THEN '-infinity'::timestamptz ELSE timestamptz '1999-12-31 23:00:00+00' + i * interval '1 day 1 second' END,
       make_interval(years => i % 3, months => i % 12, days => i % 30 - 15, secs => i * 1.5) * CASE WHEN i % 5 = 0 THEN -1 ELSE 1 END,
       md5(i::text)::uuid,
       json_build_object('i', i, 'nested', json_build_array(1, 'two', NULL, true), 'unicode', 'ü ✓'),
       jsonb_build_object('i', i, 'big', 1e30 * i, 'arr', jsonb_build_array(i, 'x', NULL), 'nan', 'NaN'),
       ${xml},
       CASE WHEN i % 4 = 0 THEN ('2001:db8::' || to_hex(i) || '/64')::inet
            ELSE ('10.' || i % 256 || '.' || i / 256 % 256 || '.1/' || 8 + i % 24)::inet END,
       ('192.168.' || i % 256 || '.0/24')::cidr,
       ('08:00:2b:' || lpad(to_hex(i % 256), 2, '0') || ':' || lpad(to_hex(i / 256 % 256), 2, '0') || ':01')::macaddr,
       CASE i % 5 WHEN 0 THEN '{{1,2},{3,4}}'::integer[] WHEN 1 THEN '{}'::integer[] ELSE ARRAY[i, NULL, -i] END,
       ARRAY['a', 'with space', 'quote"', NULL, 'comma,', 'brace}', '', 'row ' || i],
       (enum_range(NULL::app.mood))[1 + i % 3],
       ROW('Street "' || i || '"', NULL, '12345')::app.address,
       1 + i,
       to_tsvector('english', 'The quick brown fox ' || i || ' jumps over the lazy dogs'),
       point(i * 0.5, -i * 0.25),
       CASE WHEN i % 7 = 0 THEN 'empty'::int4range ELSE int4range(i, i + 10, CASE WHEN i % 2 = 0 THEN '[]' ELSE '[)' END) END,
       numrange(i * 0.5, NULL),
       tstzrange(timestamptz '2024-01-01 00:00+00' + i * interval '1 hour', timestamptz '2024-01-01 00:00+00' + (i + 1) * interval '1 hour'),
       daterange(date '2024-01-01' + i, date '2024-01-01' + i + 7)
FROM generate_series(1, ${types}) i;

-- 300 md5 values per document: 9.6 kB of text that pglz cannot shrink, so it is stored out of line.
INSERT INTO app.documents (id, title, version, body, payload, meta)
SELECT i, 'Document ' || i, 1, big.text, decode(big.text || big.text, 'hex'), jsonb_build_object('id', i, 'blob', big.text)
FROM generate_series(1, ${documents}) i,
     LATERAL (SELECT string_agg(md5(i || ':' || g), '' ORDER BY g) AS text FROM generate_series(1, 300) g) big;

-- Dates from 2023 to late 2026: every partition gets rows, the default one too.
INSERT INTO app.events (occurred_on, kind, payload)
SELECT date '2023-01-01' + (i * 7) % 1400, (ARRAY['login', 'logout', 'purchase', 'error'])[1 + i % 4], jsonb_build_object('seq', i)
FROM generate_series(1, ${events}) i;

-- Every row twice, and the pattern repeats every 20 rows: plenty of identical rows.
INSERT INTO app.page_views (path, visitor, viewed_on, hits)
SELECT '/page/' || i % 10, i % 4, date '2024-01-01' + i % 2, 1
FROM generate_series(1, ${page_views}) i, generate_series(1, 2) twice;

INSERT INTO app.settings (key, value)
SELECT 'key.' || i, 'value ' || i FROM generate_series(1, 10) i;

INSERT INTO "Ünïcode Schema"."Order ""Items""" ("Weird Col", "naïve Ωmega", "select")
SELECT 'wëird "' || i || E'" value\\', i * 1.125, i % 2 = 0
FROM generate_series(1, ${items}) i;
