-- ferry's sample database: small, but with the cases that break migrations.
-- Works on PostgreSQL 13 and later. Every object is created by this one script, so a target prepared by hand
-- (`ferry run --schema existing`) gets exactly what `ferry run --schema copy` would build.

CREATE SCHEMA app;
CREATE SCHEMA "Ünïcode Schema";

CREATE TYPE app.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE app.address AS (street text, city text, zip varchar(10));
CREATE DOMAIN app.positive_int AS integer CHECK (VALUE > 0);

-- A standalone sequence nobody owns: the cutover must carry its value over by itself.
CREATE SEQUENCE app.invoice_number_seq START 1000 INCREMENT 7;

-- GENERATED ALWAYS identity: inserts on the target need OVERRIDING SYSTEM VALUE.
CREATE TABLE app.customers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    name       varchar(100) NOT NULL,
    country    char(2) NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE INDEX customers_lower_name_idx ON app.customers (lower(name));

-- A text primary key that the workload changes; ON UPDATE CASCADE rewrites the order lines that point at it.
CREATE TABLE app.products (
    sku   text PRIMARY KEY,
    name  text NOT NULL,
    price numeric(12,2) NOT NULL,
    stock integer NOT NULL DEFAULT 0
);
-- NOT VALID: pg_dump puts it in post-data, after the rows that were never checked.
ALTER TABLE app.products ADD CONSTRAINT products_price_non_negative CHECK (price >= 0) NOT VALID;

-- Parent of order_lines; deleting a customer cascades to orders and on to order lines.
CREATE TABLE app.orders (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE,
    status      app.order_status NOT NULL DEFAULT 'new',
    ordered_on  date NOT NULL,
    total       numeric(14,2) NOT NULL DEFAULT 0,
    shipping    app.address,
    tags        text[] NOT NULL DEFAULT '{}',
    quantities  integer[],
    invoice_no  bigint,
    note        text
);
CREATE INDEX orders_customer_idx ON app.orders (customer_id);
CREATE INDEX orders_open_idx ON app.orders (ordered_on) WHERE status IN ('new', 'paid');

-- Multi-column primary key, a domain, and a STORED generated column (never written by ferry: the target computes it).
CREATE TABLE app.order_lines (
    order_id    bigint NOT NULL REFERENCES app.orders (id) ON DELETE CASCADE,
    line_no     integer NOT NULL,
    product_sku text NOT NULL REFERENCES app.products (sku) ON UPDATE CASCADE,
    quantity    app.positive_int NOT NULL,
    unit_price  numeric(12,2) NOT NULL,
    amount      numeric(14,2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_product_idx ON app.order_lines (product_sku);

-- One column per common type. c_numeric holds NaN, and on PostgreSQL 14+ Infinity and -Infinity.
CREATE TABLE app.all_types (
    id            integer PRIMARY KEY,
    c_int2        smallint,
    c_int4        integer,
    c_int8        bigint,
    c_numeric     numeric,
    c_float4      real,
    c_float8      double precision,
    c_text        text,
    c_varchar     varchar(20),
    c_char        char(5),
    c_bytea       bytea,
    c_bool        boolean,
    c_date        date,
    c_time        time,
    c_timetz      timetz,
    c_timestamp   timestamp,
    c_timestamptz timestamptz,
    c_interval    interval,
    c_uuid        uuid,
    c_json        json,
    c_jsonb       jsonb,
    c_xml         xml,
    c_inet        inet,
    c_cidr        cidr,
    c_macaddr     macaddr,
    c_int_array   integer[],
    c_text_array  text[],
    c_mood        app.mood,
    c_address     app.address,
    c_positive    app.positive_int,
    c_tsvector    tsvector,
    c_point       point,
    c_int4range   int4range,
    c_numrange    numrange,
    c_tstzrange   tstzrange,
    c_daterange   daterange
);
CREATE INDEX all_types_tsvector_idx ON app.all_types USING gin (c_tsvector);
CREATE INDEX all_types_jsonb_idx ON app.all_types USING gin (c_jsonb);

-- Values larger than 2 kB and incompressible, so they live out of line in TOAST; the workload often updates
-- only `version`, which leaves them unchanged in the WAL.
CREATE TABLE app.documents (
    id      integer PRIMARY KEY,
    title   text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    body    text,
    payload bytea,
    meta    jsonb
);

-- Range-partitioned by date with a default partition; the workload moves rows between partitions.
CREATE TABLE app.events (
    id          bigserial,
    occurred_on date NOT NULL,
    kind        text NOT NULL,
    payload     jsonb,
    PRIMARY KEY (id, occurred_on)
) PARTITION BY RANGE (occurred_on);
CREATE TABLE app.events_2023 PARTITION OF app.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
CREATE INDEX events_kind_idx ON app.events (kind);

-- No primary key, REPLICA IDENTITY FULL, and duplicate rows: an update or delete names the whole old row,
-- which matches several identical rows on the target; exactly one of them must change.
CREATE TABLE app.page_views (
    path      text NOT NULL,
    visitor   integer NOT NULL,
    viewed_on date NOT NULL,
    hits      integer NOT NULL
);
ALTER TABLE app.page_views REPLICA IDENTITY FULL;

-- No primary key and REPLICA IDENTITY DEFAULT: its rows cannot be identified, so only its inserts (and
-- truncates) migrate, yet the application's updates and deletes on the source must keep working.
CREATE TABLE app.audit_log (
    table_name text NOT NULL,
    op         text NOT NULL,
    row_id     bigint,
    note       text,
    logged_at  timestamptz NOT NULL DEFAULT now()
);

-- A small table the workload truncates and fills again.
CREATE TABLE app.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Identifiers that need quoting everywhere: spaces, quotes, upper case, unicode, a reserved word.
CREATE TABLE "Ünïcode Schema"."Order ""Items""" (
    "ID"         integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "Weird Col"  text,
    "naïve Ωmega" numeric(10,3),
    "select"     boolean NOT NULL DEFAULT false
);
CREATE INDEX "Weird ""Index"" Ω" ON "Ünïcode Schema"."Order ""Items""" ("Weird Col");

CREATE FUNCTION app.order_total(order_id bigint) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(sum(amount), 0) FROM app.order_lines WHERE order_id = $1 $$;

CREATE VIEW app.order_summary AS
    SELECT o.id, c.email, o.status, o.ordered_on, app.order_total(o.id) AS total
    FROM app.orders o JOIN app.customers c ON c.id = o.customer_id;

-- An application trigger that writes rows. On the target it must not fire while changes are applied
-- (session_replication_role = replica), or every order change would be logged twice.
CREATE FUNCTION app.log_order_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO app.audit_log (table_name, op, row_id, note) VALUES ('orders', TG_OP, OLD.id, OLD.status::text);
        RETURN OLD;
    END IF;
    INSERT INTO app.audit_log (table_name, op, row_id, note) VALUES ('orders', TG_OP, NEW.id, NEW.status::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE OR DELETE ON app.orders
    FOR EACH ROW EXECUTE FUNCTION app.log_order_change();
