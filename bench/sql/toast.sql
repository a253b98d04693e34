-- Shape `toast` of bench/run.sh (psql -v scale=N): the bulk of the database is one wide table of documents whose
-- bodies are 2 to 20 kB of random text, so every body is stored out of line in TOAST (compression cannot bring random
-- hex below the 2 kB threshold), sized to be at least as big as `pgbench -i -s N` (about 15 MB per unit of N); plus
-- a few small tables that refer to it, so the copy also validates foreign keys.
\set ON_ERROR_STOP on

CREATE TABLE authors (
    id int PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE
);
INSERT INTO authors SELECT i, 'author ' || i, 'author' || i || '@example.com' FROM generate_series(1, 100 * :scale) i;

CREATE TABLE tags (id int PRIMARY KEY, name text NOT NULL UNIQUE);
INSERT INTO tags SELECT i, 'tag-' || i FROM generate_series(1, 200) i;

-- 1,400 documents per unit of scale (16 MB), bodies of 64 to 623 md5 values (2 to 20 kB, 11 kB on average).
CREATE TABLE documents (
    id bigint PRIMARY KEY,
    author_id int NOT NULL REFERENCES authors,
    title text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO documents
SELECT i, 1 + i % (100 * :scale), 'document ' || i,
       (SELECT string_agg(md5(random()::text || i || k), '') FROM generate_series(1, 64 + (i * 7919) % 560) k),
       timestamptz '2024-01-01' + i * interval '1 minute'
FROM generate_series(1, 1400 * :scale) i;
CREATE INDEX documents_author_id ON documents (author_id);
CREATE INDEX documents_created_at ON documents (created_at);

CREATE TABLE document_tags (
    document_id bigint NOT NULL REFERENCES documents,
    tag_id int NOT NULL REFERENCES tags,
    PRIMARY KEY (document_id, tag_id)
);
INSERT INTO document_tags SELECT i, 1 + (i + 97 * k) % 200 FROM generate_series(1, 1400 * :scale) i, generate_series(1, 2) k;

VACUUM ANALYZE;
CHECKPOINT;
