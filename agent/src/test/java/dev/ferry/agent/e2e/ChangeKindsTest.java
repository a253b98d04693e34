package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Each kind of change on its own, against a schema prepared by hand on both sides (--schema existing), so a failure
 * points at the apply path rather than at pg_dump.
 */
@Timeout(300)
class ChangeKindsTest {
    private static final String SCHEMA = """
            CREATE TABLE public.accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric, big text);
            CREATE TABLE public.events (at timestamptz, payload jsonb);
            CREATE TABLE public.dupes (a int, b text);
            ALTER TABLE public.dupes REPLICA IDENTITY FULL;
            CREATE TABLE "Odd ""Schema"" Table" ("Key Col" int PRIMARY KEY, "ÄÖÜ" text);
            CREATE TABLE public.measurements (day date NOT NULL, city int NOT NULL, reading float8, PRIMARY KEY (day, city)) PARTITION BY RANGE (day);
            CREATE TABLE public.measurements_2024 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE public.measurements_2025 PARTITION OF public.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE public.deferred (id int PRIMARY KEY DEFERRABLE, note text);
            CREATE SEQUENCE public.ticket_seq;
            """;

    private static TestPostgres target;

    @BeforeAll
    static void startTarget() {
        target = TestPostgres.start();
    }

    @AfterAll
    static void stopTarget() {
        if (target != null) target.close();
    }

    /** Source majors 13, 15 and 17 speak pgoutput protocol versions 1, 3 and 4; 13 streams nothing in progress. */
    @ParameterizedTest(name = "source PostgreSQL {0}")
    @ValueSource(ints = {13, 15, 17})
    void everyKindOfChangeArrivesAndTheSourceKeepsWorking(int sourceMajor) throws Exception {
        assumeTrue(TestPostgres.available(sourceMajor), "no PostgreSQL " + sourceMajor + " binaries");
        try (TestPostgres source = TestPostgres.start(sourceMajor, java.util.Map.of())) {
            migrate(source, "kinds" + sourceMajor, MigrationConfig.SchemaMode.EXISTING);
        }
    }

    @Test
    void schemaCopiedWithPgDumpIntoAnEmptyTarget() throws Exception {
        try (TestPostgres source = TestPostgres.start()) {
            migrate(source, "kinds_dumped", MigrationConfig.SchemaMode.COPY);
        }
    }

    private void migrate(TestPostgres source, String db, MigrationConfig.SchemaMode schemaMode) throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, db);
        source.execute(db, SCHEMA,
                "INSERT INTO public.accounts SELECT g, 'owner ' || g, g * 1.5, CASE WHEN g = 1 THEN repeat(md5('x'), 4000) END FROM generate_series(1, 1000) g",
                // Stored out of line (md5 text barely compresses), so a change that leaves it alone does not carry it.
                "UPDATE public.accounts SET big = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g) WHERE id = 4",
                "INSERT INTO public.events SELECT now(), jsonb_build_object('n', g) FROM generate_series(1, 100) g",
                "INSERT INTO public.dupes VALUES (1, 'same'), (1, 'same'), (2, 'other')",
                "INSERT INTO public.deferred VALUES (1, 'a'), (2, 'b')",
                "INSERT INTO \"Odd \"\"Schema\"\" Table\" VALUES (1, 'ü')",
                "INSERT INTO public.measurements VALUES ('2024-06-01', 1, 20.5), ('2024-06-01', 2, 'NaN')",
                "SELECT nextval('public.ticket_seq') FROM generate_series(1, 42)");
        if (schemaMode == MigrationConfig.SchemaMode.EXISTING) target.execute(db, SCHEMA);

        // A newer source than target needs the risk accepted; this schema restores on both.
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(schemaMode, 2, "target-version"));
        Deadline.await("streaming", Duration.ofSeconds(90), () -> {
            agent.failIfDead();
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });

        source.execute(db,
                "UPDATE public.accounts SET balance = 'NaN' WHERE id = 2",
                "UPDATE public.accounts SET balance = balance + 1 WHERE id = 1",               // leaves the TOASTed value unchanged
                "UPDATE public.accounts SET id = 5000 WHERE id = 3",                          // primary key change
                "UPDATE public.accounts SET id = 6000 WHERE id = 4",                          // key change leaving the TOASTed value unchanged
                "DELETE FROM public.accounts WHERE id BETWEEN 10 AND 19",
                "INSERT INTO public.accounts SELECT g, 'late ' || g, 0, NULL FROM generate_series(2000, 2500) g",
                "UPDATE public.events SET payload = '{}'",                                    // no identity: must still work on the source
                "DELETE FROM public.events WHERE payload = '{}'",
                "INSERT INTO public.events VALUES (now(), '{\"after\": true}')",
                // A DEFERRABLE key is no replica identity: published for updates, this UPDATE would fail on the source.
                "UPDATE public.deferred SET note = 'changed on the source' WHERE id = 1",
                "INSERT INTO public.deferred VALUES (3, 'after')",
                "DELETE FROM public.dupes WHERE ctid = (SELECT ctid FROM public.dupes WHERE a = 1 LIMIT 1)", // one of two duplicates
                "UPDATE public.dupes SET b = 'changed' WHERE a = 2",
                "UPDATE \"Odd \"\"Schema\"\" Table\" SET \"ÄÖÜ\" = 'ö' WHERE \"Key Col\" = 1",
                "UPDATE public.measurements SET day = '2025-03-01' WHERE city = 1",          // moves between partitions
                "BEGIN; INSERT INTO public.accounts SELECT g, 'big txn', g, repeat('y', 200) FROM generate_series(10000, 30000) g; COMMIT;",
                "BEGIN; INSERT INTO public.accounts VALUES (40000, 'savepoint', 1, NULL); SAVEPOINT s; INSERT INTO public.accounts SELECT g, 'rolled back', 1, repeat('z', 300) FROM generate_series(50000, 52000) g; ROLLBACK TO s; INSERT INTO public.accounts VALUES (40001, 'after', 1, NULL); COMMIT;",
                "SELECT nextval('public.ticket_seq') FROM generate_series(1, 8)");
        source.execute(db, "TRUNCATE public.dupes", "INSERT INTO public.dupes VALUES (7, 'after truncate'), (7, 'after truncate')");

        String summary = migration.cutover(Duration.ofSeconds(90));
        assertTrue(summary.contains("migration finished"), summary);
        agent.awaitSummary(Duration.ofSeconds(30));

        for (String table : List.of("public.accounts", "public.dupes", "\"Odd \"\"Schema\"\" Table\"", "public.measurements")) {
            String query = "SELECT t::text FROM " + table + " t ORDER BY 1";
            assertEquals(source.query(db, query), target.query(db, query), table);
        }
        assertEquals("101", target.queryValue(db, "SELECT count(*) FROM public.events"), "insert-only table got every insert");
        assertEquals("1 a,2 b,3 after", target.queryValue(db, "SELECT string_agg(id || ' ' || note, ',' ORDER BY id) FROM public.deferred"),
                "a table with a deferrable key is migrated insert-only");
        assertEquals("50", target.queryValue(db, "SELECT last_value FROM public.ticket_seq"));
        assertEquals(0, migration.slotCount());
        assertTrue(migration.log("stream.log").contains("no tuple identifier for UPDATE/DELETE in table \"public\".\"events\""));
    }
}
