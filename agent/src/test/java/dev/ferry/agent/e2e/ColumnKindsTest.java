package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every kind of column goes through the snapshot copy and the stream: stored generated columns (which neither COPY
 * nor pgoutput carry), identity columns ALWAYS and BY DEFAULT in and outside the key, dropped columns in the middle
 * of a table, and tables with no column to copy at all. Each migration is live (schema by pg_dump, binary COPY),
 * the source changes while it streams, including in bulk (the apply's COPY route) and on hot keys (coalesced
 * upserts), and ends with cutover and a row-by-row comparison.
 */
@Timeout(300)
class ColumnKindsTest extends TwoServers {

    /** A table of only a generated column, and tables with no column: COPY has no column list to name. */
    @Test
    void tablesWithoutCopyableColumnsKeepTheirRowCountsThroughCopyAndStream() throws Exception {
        String db = "nocolumns";
        MigrationFixture migration = new MigrationFixture(source, target, db);
        source.execute(db,
                "CREATE TABLE public.gen (nb int GENERATED ALWAYS AS (1) STORED)",
                "ALTER TABLE public.gen REPLICA IDENTITY FULL",
                // Over 32 MB, so the copy splits it into page ranges (the SELECT route of COPY).
                "INSERT INTO public.gen SELECT FROM generate_series(1, 1000000)",
                "CREATE TABLE public.nocols ()",
                "ALTER TABLE public.nocols REPLICA IDENTITY FULL",
                "INSERT INTO public.nocols DEFAULT VALUES", "INSERT INTO public.nocols DEFAULT VALUES", "INSERT INTO public.nocols DEFAULT VALUES",
                // No replica identity: published for inserts and truncates only.
                "CREATE TABLE public.nocols_inserts ()",
                "INSERT INTO public.nocols_inserts SELECT FROM generate_series(1, 5)");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        awaitStreaming(migration, agent);
        assertTrue(Pattern.compile("\"gen\" part \\d+/\\d+").matcher(migration.log("snapshot.log")).find(),
                "gen was split into page ranges:\n" + migration.log("snapshot.log"));
        assertTrue(migration.log("snapshot.log").contains("COPY \"public\".\"nocols\" FROM STDIN (FORMAT binary, FREEZE)"),
                "nocols was copied whole, binary and frozen:\n" + migration.log("snapshot.log"));

        source.execute(db,
                "INSERT INTO public.gen DEFAULT VALUES",
                "DELETE FROM public.gen WHERE ctid IN (SELECT ctid FROM public.gen LIMIT 10)",
                "UPDATE public.gen SET nb = DEFAULT WHERE ctid = (SELECT ctid FROM public.gen LIMIT 1)", // nothing to set
                "INSERT INTO public.nocols DEFAULT VALUES",
                "DELETE FROM public.nocols WHERE ctid IN (SELECT ctid FROM public.nocols LIMIT 2)",
                "INSERT INTO public.nocols_inserts SELECT FROM generate_series(1, 3)",
                "TRUNCATE public.nocols_inserts",
                "INSERT INTO public.nocols_inserts DEFAULT VALUES", "INSERT INTO public.nocols_inserts DEFAULT VALUES");
        awaitApplied(migration, agent, "SELECT count(*) FROM public.nocols_inserts");
        // Many inserted rows of one table in a transaction of their own take the apply's COPY route.
        source.execute(db, "BEGIN; INSERT INTO public.gen SELECT FROM generate_series(1, 300); INSERT INTO public.nocols SELECT FROM generate_series(1, 250); COMMIT");
        awaitApplied(migration, agent, "SELECT count(*) FROM public.nocols");
        String summary = migration.cutover(Duration.ofSeconds(90));
        assertTrue(summary.contains("migration finished"), summary);
        agent.awaitSummary(Duration.ofSeconds(30));
        assertCopiedAtLeast(migration, 550);

        assertEquals("1000291 252 2", target.queryValue(db, "SELECT (SELECT count(*) FROM public.gen) || ' ' || (SELECT count(*) FROM public.nocols)"
                + " || ' ' || (SELECT count(*) FROM public.nocols_inserts)"));
        assertEquals("0", target.queryValue(db, "SELECT count(*) FROM public.gen WHERE nb IS DISTINCT FROM 1"), "the target computes the generated column");
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
    }

    /**
     * Identity columns outside the key are set from the source's values, GENERATED ALWAYS included (PostgreSQL lets
     * no UPDATE set those), and are ALWAYS again after cutover with their sequences where the source left them.
     */
    @Test
    void identityGeneratedAndDroppedColumnsArriveThroughCopyAndStream() throws Exception {
        String db = "columnkinds";
        MigrationFixture migration = new MigrationFixture(source, target, db);
        source.execute(db,
                "CREATE TABLE public.g (pk int PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text)",
                "CREATE TABLE public.pk_always (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)",
                "CREATE TABLE public.by_default (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                        + " n int GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 5), v text)",
                "CREATE TABLE public.full_always (n int GENERATED ALWAYS AS IDENTITY, v text)",
                "ALTER TABLE public.full_always REPLICA IDENTITY FULL",
                "CREATE TABLE public.computed (id int PRIMARY KEY, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED,"
                        + " label text GENERATED ALWAYS AS ('#' || id) STORED, note text)",
                // A column dropped in the middle and one added after it: the source's physical order is not the target's.
                "CREATE TABLE public.reshaped (id int PRIMARY KEY, a text, gone text, b int, n int GENERATED ALWAYS AS IDENTITY)",
                "INSERT INTO public.reshaped (id, a, gone, b) SELECT i, 'a' || i, 'gone', i FROM generate_series(1, 50) i",
                "ALTER TABLE public.reshaped DROP COLUMN gone",
                "ALTER TABLE public.reshaped ADD COLUMN c text DEFAULT 'added'",
                "INSERT INTO public.reshaped (id, a, b, c) SELECT i, 'a' || i, i, 'c' || i FROM generate_series(51, 100) i",
                "INSERT INTO public.g (pk, v) SELECT i, 'v' || i FROM generate_series(1, 100) i",
                "INSERT INTO public.pk_always (v) SELECT 'v' || i FROM generate_series(1, 100) i",
                "INSERT INTO public.by_default (v) SELECT 'v' || i FROM generate_series(1, 50) i",
                "INSERT INTO public.by_default (id, n, v) VALUES (1000, 7, 'explicit')",
                "INSERT INTO public.full_always (v) SELECT 'v' || i FROM generate_series(1, 20) i",
                "INSERT INTO public.computed (id, a, note) SELECT i, i, 'n' || i FROM generate_series(1, 100) i",
                "CREATE TABLE public.parted (id int PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text) PARTITION BY RANGE (id)",
                "CREATE TABLE public.parted_low PARTITION OF public.parted FOR VALUES FROM (0) TO (1000)",
                "CREATE TABLE public.parted_high PARTITION OF public.parted FOR VALUES FROM (1000) TO (MAXVALUE)",
                "INSERT INTO public.parted (id, v) SELECT i * 20, 'v' || i FROM generate_series(1, 100) i");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        awaitStreaming(migration, agent);

        source.execute(db,
                "INSERT INTO public.g (pk, v) VALUES (1001, 'a')",
                "UPDATE public.g SET v = 'b' WHERE pk = 1001",
                "UPDATE public.g SET n = DEFAULT WHERE pk = 5",                                   // a new identity value
                "DELETE FROM public.g WHERE pk = 6",
                "DO $$ BEGIN FOR i IN 1..50 LOOP UPDATE public.g SET v = 'hot ' || i WHERE pk = 1; END LOOP; END $$",
                "INSERT INTO public.pk_always (v) VALUES ('new')",
                "UPDATE public.pk_always SET v = 'changed' WHERE id = 2",
                "UPDATE public.pk_always SET id = DEFAULT WHERE id = 3",                          // a new key
                "DELETE FROM public.pk_always WHERE id = 4",
                "INSERT INTO public.by_default (v) VALUES ('new')",
                "INSERT INTO public.by_default (id, n, v) VALUES (2000, 8, 'explicit')",
                "UPDATE public.by_default SET n = 999 WHERE id = 2",
                "DELETE FROM public.by_default WHERE id = 3",
                "INSERT INTO public.full_always (v) VALUES ('new')",
                "UPDATE public.full_always SET v = 'changed' WHERE n = 2",
                "UPDATE public.full_always SET n = DEFAULT WHERE n = 3",
                "DELETE FROM public.full_always WHERE n = 4",
                "INSERT INTO public.computed (id, a, note) VALUES (1001, 5, 'new')",
                "UPDATE public.computed SET a = a + 1 WHERE id < 10",
                "UPDATE public.computed SET note = 'changed' WHERE id = 20",
                "DELETE FROM public.computed WHERE id = 30",
                "INSERT INTO public.parted (id, v) VALUES (5, 'new')",
                "UPDATE public.parted SET v = 'changed', n = DEFAULT WHERE id = 40",
                "UPDATE public.parted SET id = 1510 WHERE id = 60",                               // to the other partition
                "INSERT INTO public.reshaped (id, a, b) VALUES (1001, 'new', 1)",
                "UPDATE public.reshaped SET b = -b, c = 'changed' WHERE id IN (10, 60)",
                "DELETE FROM public.reshaped WHERE id IN (11, 61)");
        awaitApplied(migration, agent, "SELECT count(*) FROM public.reshaped");
        // Many inserted rows of each table in a transaction of their own take the apply's COPY route: 1,853 rows.
        source.execute(db, """
                BEGIN;
                INSERT INTO public.g (pk, v) SELECT i, 'bulk' FROM generate_series(2000, 2400) i;
                INSERT INTO public.pk_always (v) SELECT 'bulk' FROM generate_series(1, 300);
                INSERT INTO public.by_default (v) SELECT 'bulk' FROM generate_series(1, 300);
                INSERT INTO public.full_always (v) SELECT 'bulk' FROM generate_series(1, 250);
                INSERT INTO public.computed (id, a) SELECT i, i FROM generate_series(2000, 2300) i;
                INSERT INTO public.reshaped (id, a, b, c) SELECT i, 'bulk', i, NULL FROM generate_series(2000, 2300) i;
                COMMIT""");
        awaitApplied(migration, agent, "SELECT count(*) FROM public.reshaped");
        String summary = migration.cutover(Duration.ofSeconds(90));
        assertTrue(summary.contains("migration finished"), summary);
        agent.awaitSummary(Duration.ofSeconds(30));

        // Rows, and every sequence (identity ones included) at the source's value.
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        assertCopiedAtLeast(migration, 1853);
        Matcher coalesced = Pattern.compile("(\\d+) upserts coalesced").matcher(migration.log("stream.log"));
        assertTrue(coalesced.find() && Long.parseLong(coalesced.group(1)) >= 49, "the hot key's 50 updates in one transaction were coalesced: " + migration.log("stream.log"));
        String identities = "SELECT string_agg(attrelid::regclass || '.' || attname || ' ' || attidentity::text, ', ' ORDER BY attrelid::regclass::text, attname)"
                + " FROM pg_attribute WHERE attidentity <> '' AND attrelid::regclass::text NOT LIKE 'ferry.%'";
        assertEquals(source.queryValue(db, identities), target.queryValue(db, identities), "identity kinds as on the source after cutover");
        String next = "INSERT INTO public.g (pk, v) VALUES (99999, 'after cutover') RETURNING n";
        assertEquals(source.queryValue(db, next), target.queryValue(db, next), "the target's identity continues where the source's did");
        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> target.execute(db, "INSERT INTO public.g (pk, n, v) VALUES (100000, 1, 'x')"));
        assertTrue(refused.getMessage().contains("cannot insert a non-DEFAULT value into column \"n\""), "GENERATED ALWAYS again: " + refused.getMessage());
    }

    /**
     * The oldest and the newest source: pgoutput sends no generated column before PostgreSQL 18, and from 18 on only
     * through a publication that asks for them (ferry's do not); 18 also has virtual generated columns, which are not
     * stored, so neither copied nor sent. The target's schema is made by hand (pg_dump 15 cannot dump a newer source);
     * its copy of the virtual column is a stored one.
     */
    @ParameterizedTest(name = "source PostgreSQL {0}")
    @ValueSource(ints = {13, 18})
    void generatedIdentityAndEmptyTablesStreamFromOldestAndNewestSource(int sourceMajor) throws Exception {
        assumeTrue(TestPostgres.available(sourceMajor), "no PostgreSQL " + sourceMajor + " binaries");
        String db = "columns" + sourceMajor;
        String schema = """
                CREATE TABLE public.g (pk int PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text);
                CREATE TABLE public.computed (id int PRIMARY KEY, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED, note text);
                CREATE TABLE public.gen (nb int GENERATED ALWAYS AS (1) STORED);
                ALTER TABLE public.gen REPLICA IDENTITY FULL;
                CREATE TABLE public.nocols ();
                ALTER TABLE public.nocols REPLICA IDENTITY FULL;
                """;
        String virtual = "ALTER TABLE public.computed ADD COLUMN tripled int GENERATED ALWAYS AS (a * 3) ";
        try (TestPostgres older = TestPostgres.start(sourceMajor, java.util.Map.of())) {
            MigrationFixture migration = new MigrationFixture(older, target, db);
            older.execute(db, schema);
            target.execute(db, schema);
            if (sourceMajor >= 18) {
                older.execute(db, virtual + "VIRTUAL");
                target.execute(db, virtual + "STORED");
            }
            older.execute(db, "INSERT INTO public.g (pk, v) SELECT i, 'v' || i FROM generate_series(1, 10) i",
                    "INSERT INTO public.computed (id, a) SELECT i, i FROM generate_series(1, 10) i",
                    "INSERT INTO public.gen DEFAULT VALUES", "INSERT INTO public.nocols DEFAULT VALUES", "INSERT INTO public.nocols DEFAULT VALUES");
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 2, "target-version"));
            awaitStreaming(migration, agent);
            older.execute(db,
                    "INSERT INTO public.g (pk, v) VALUES (11, 'a')",
                    "UPDATE public.g SET v = 'b', n = DEFAULT WHERE pk IN (2, 11)",
                    "DELETE FROM public.g WHERE pk = 3",
                    "INSERT INTO public.computed (id, a, note) VALUES (11, 11, 'new')",
                    "UPDATE public.computed SET a = -a WHERE id < 5",
                    "DELETE FROM public.computed WHERE id = 6",
                    "INSERT INTO public.gen SELECT FROM generate_series(1, 3)",
                    "DELETE FROM public.gen WHERE ctid = (SELECT ctid FROM public.gen LIMIT 1)",
                    "INSERT INTO public.nocols SELECT FROM generate_series(1, 3)",
                    "DELETE FROM public.nocols WHERE ctid = (SELECT ctid FROM public.nocols LIMIT 1)");
            awaitApplied(migration, agent, "SELECT count(*) FROM public.nocols");
            String summary = migration.cutover(Duration.ofSeconds(90));
            assertTrue(summary.contains("migration finished"), summary);
            agent.awaitSummary(Duration.ofSeconds(30));

            assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
            assertEquals("3 4", target.queryValue(db, "SELECT (SELECT count(*) FROM public.gen) || ' ' || (SELECT count(*) FROM public.nocols)"));
            assertEquals("a", target.queryValue(db, "SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'public.g'::regclass AND attname = 'n'"));
        }
    }

    /** Waits until {@code query} (run after the last change) reads the same on both sides, failing at once if the agent stopped. */
    private static void awaitApplied(MigrationFixture migration, MigrationFixture.InProcessAgent agent, String query) {
        String expected = migration.sourceServer.queryValue(migration.database, query);
        Deadline.await("the stream applied every change", Duration.ofSeconds(60), () -> {
            agent.failIfDead();
            return expected.equals(target.queryValue(migration.database, query));
        });
    }

    private static void assertCopiedAtLeast(MigrationFixture migration, long rows) {
        Matcher copied = Pattern.compile("(\\d+) rows written by COPY").matcher(migration.log("stream.log"));
        assertTrue(copied.find(), migration.log("stream.log"));
        assertTrue(Long.parseLong(copied.group(1)) >= rows, "the bulk inserts went by COPY: " + copied.group());
    }

    private static void awaitStreaming(MigrationFixture migration, MigrationFixture.InProcessAgent agent) {
        Deadline.await("streaming", Duration.ofSeconds(120), () -> {
            agent.failIfDead();
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
    }
}
