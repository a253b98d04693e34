package dev.ferry.replication.pgoutput;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The scripted workloads whose pgoutput bytes {@link PgOutputCapture} records and {@link PgOutputDecoderTest} decodes.
 * Each workload returns how many transactions (or non-transactional messages) it ends, and records the facts the
 * decoder tests check (xids, relation and type oids) in {@code facts}.
 */
final class PgOutputWorkloads {
    private PgOutputWorkloads() {}

    static final String[] SCHEMA = {
            "CREATE TABLE public.items (id int PRIMARY KEY, name text, note text)",
            "CREATE SCHEMA \"Odd Schema\"",
            "CREATE TABLE \"Odd Schema\".\"Tåble \"\"quoted\"\"\" (\"Mixed Case\" int, \"spa ce\" text, \"ünïcode\" text)",
            "ALTER TABLE \"Odd Schema\".\"Tåble \"\"quoted\"\"\" REPLICA IDENTITY FULL",
            "CREATE TABLE public.no_identity (id int, v text)",
            "ALTER TABLE public.no_identity REPLICA IDENTITY NOTHING",
            "CREATE TABLE public.by_index (a int NOT NULL, b int NOT NULL, c text)",
            "CREATE UNIQUE INDEX by_index_ab ON public.by_index (a, b)",
            "ALTER TABLE public.by_index REPLICA IDENTITY USING INDEX by_index_ab",
            "CREATE TABLE public.docs (id int PRIMARY KEY, body text, title text, missing text)",
            // EXTERNAL: stored out of line without compression, so a 10 kB body is surely TOASTed.
            "ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL",
            "CREATE TABLE public.parent (id serial PRIMARY KEY)",
            "CREATE TABLE public.child (id serial PRIMARY KEY, parent_id int REFERENCES public.parent)",
            "CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')",
            "CREATE TABLE public.feelings (id int PRIMARY KEY, mood public.mood, score numeric(5,2), tags varchar(10)[])",
            "CREATE TABLE public.bulk (id int PRIMARY KEY, payload text)",
            // Created before the slot: it writes a catalog row, which PostgreSQL 13 and 14 would send as an empty transaction.
            "SELECT pg_replication_origin_create('ferry_origin')",
    };

    static final String TOAST_BODY_SQL = "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 320) g)";

    static Map<String, PgOutputCapture.Workload> forServer(int major) {
        Map<String, PgOutputCapture.Workload> cases = new LinkedHashMap<>();
        cases.put("insert_update_delete", PgOutputWorkloads::insertUpdateDelete);
        cases.put("replica_identity", PgOutputWorkloads::replicaIdentity);
        cases.put("toast", PgOutputWorkloads::toast);
        cases.put("truncate", PgOutputWorkloads::truncate);
        cases.put("type", PgOutputWorkloads::type);
        cases.put("origin", PgOutputWorkloads::origin);
        if (major >= 14) {
            cases.put("message", PgOutputWorkloads::message);
            cases.put("streamed", PgOutputWorkloads::streamed);
            cases.put("streamed_subxact_abort", PgOutputWorkloads::streamedSubtransactionAbort);
        }
        return cases;
    }

    private static int insertUpdateDelete(Connection c, Properties facts) throws SQLException {
        facts.setProperty("relationId", value(c, "SELECT 'public.items'::regclass::oid"));
        transaction(c, facts,
                "INSERT INTO public.items VALUES (1, 'first', NULL)",
                "UPDATE public.items SET name = 'second' WHERE id = 1",
                "UPDATE public.items SET id = 2 WHERE id = 1",
                "DELETE FROM public.items WHERE id = 2");
        return 1;
    }

    private static int replicaIdentity(Connection c, Properties facts) throws SQLException {
        facts.setProperty("fullId", value(c, "SELECT '\"Odd Schema\".\"Tåble \"\"quoted\"\"\"'::regclass::oid"));
        facts.setProperty("nothingId", value(c, "SELECT 'public.no_identity'::regclass::oid"));
        facts.setProperty("indexId", value(c, "SELECT 'public.by_index'::regclass::oid"));
        transaction(c, facts,
                "INSERT INTO \"Odd Schema\".\"Tåble \"\"quoted\"\"\" VALUES (1, 'a b', 'ü €')",
                "UPDATE \"Odd Schema\".\"Tåble \"\"quoted\"\"\" SET \"spa ce\" = 'c d'",
                "DELETE FROM \"Odd Schema\".\"Tåble \"\"quoted\"\"\"",
                "INSERT INTO public.no_identity VALUES (1, 'x')",
                "INSERT INTO public.by_index VALUES (1, 2, 'c')",
                "UPDATE public.by_index SET b = 3",
                "UPDATE public.by_index SET c = 'd'");
        return 1;
    }

    private static int toast(Connection c, Properties facts) throws SQLException {
        facts.setProperty("relationId", value(c, "SELECT 'public.docs'::regclass::oid"));
        facts.setProperty("body", value(c, "SELECT " + TOAST_BODY_SQL));
        execute(c, "INSERT INTO public.docs VALUES (1, " + TOAST_BODY_SQL + ", 'title', NULL)",
                "UPDATE public.docs SET title = 'new title' WHERE id = 1");
        return 2;
    }

    private static int truncate(Connection c, Properties facts) throws SQLException {
        facts.setProperty("parentId", value(c, "SELECT 'public.parent'::regclass::oid"));
        facts.setProperty("childId", value(c, "SELECT 'public.child'::regclass::oid"));
        facts.setProperty("itemsId", value(c, "SELECT 'public.items'::regclass::oid"));
        execute(c, "INSERT INTO public.items VALUES (3, 'three', NULL)",
                "TRUNCATE public.parent RESTART IDENTITY CASCADE",
                "TRUNCATE public.items");
        return 3;
    }

    private static int type(Connection c, Properties facts) throws SQLException {
        facts.setProperty("relationId", value(c, "SELECT 'public.feelings'::regclass::oid"));
        facts.setProperty("moodOid", value(c, "SELECT 'public.mood'::regtype::oid"));
        transaction(c, facts, "INSERT INTO public.feelings VALUES (1, 'happy', 12.5, '{a,\"b c\"}')");
        return 1;
    }

    private static int origin(Connection c, Properties facts) throws SQLException {
        execute(c, "SELECT pg_replication_origin_session_setup('ferry_origin')");
        c.setAutoCommit(false);
        execute(c, "SELECT pg_replication_origin_xact_setup('0/12345678', '2001-02-03 04:05:06+00')",
                "INSERT INTO public.items VALUES (20, 'from elsewhere', NULL)");
        c.commit();
        c.setAutoCommit(true);
        execute(c, "SELECT pg_replication_origin_session_reset()");
        return 1;
    }

    private static int message(Connection c, Properties facts) throws SQLException {
        transaction(c, facts,
                "SELECT pg_logical_emit_message(true, 'ferry', 'hello')",
                "INSERT INTO public.items VALUES (30, 'with message', NULL)");
        execute(c, "SELECT pg_logical_emit_message(false, 'ferry.raw', '\\x00ff01'::bytea)");
        return 2;
    }

    private static int streamed(Connection c, Properties facts) throws SQLException {
        transaction(c, facts, "INSERT INTO public.bulk SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g");
        return 1;
    }

    private static int streamedSubtransactionAbort(Connection c, Properties facts) throws SQLException {
        transaction(c, facts,
                "INSERT INTO public.bulk SELECT g, repeat('y', 100) FROM generate_series(3001, 5000) g",
                "SAVEPOINT s",
                "INSERT INTO public.bulk SELECT g, repeat('z', 100) FROM generate_series(5001, 8000) g",
                "ROLLBACK TO SAVEPOINT s",
                "RELEASE SAVEPOINT s",
                "INSERT INTO public.bulk VALUES (9000, 'after rollback')");
        return 1;
    }

    /** Runs the statements in one transaction, recording its xid as fact {@code xid}. */
    private static void transaction(Connection c, Properties facts, String... sql) throws SQLException {
        c.setAutoCommit(false);
        facts.setProperty("xid", value(c, "SELECT txid_current() % 4294967296"));
        execute(c, sql);
        c.commit();
        c.setAutoCommit(true);
    }

    private static void execute(Connection c, String... sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            for (String each : sql) s.execute(each);
        }
    }

    private static String value(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
