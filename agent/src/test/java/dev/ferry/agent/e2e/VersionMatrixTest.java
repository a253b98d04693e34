package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A live migration between servers of different major versions, one pgoutput protocol version each: 13 speaks
 * protocol 1, 14 protocol 2 (in-progress transactions streamed), 16 and later protocol 4. Under a writer, with a big
 * transaction the source streams before its commit (logical_decoding_work_mem 64 kB), one it streams and then rolls
 * back, and one whose subtransaction aborts; the schema is prepared on the target (pg_dump 15 dumps no 16+ source).
 */
@Timeout(300)
class VersionMatrixTest {
    private static final String BULK = "CREATE TABLE public.bulk (id int PRIMARY KEY, payload text)";

    @ParameterizedTest(name = "PostgreSQL {0} -> {1}")
    @CsvSource({"13, 17", "14, 16", "16, 18", "17, 17", "18, 18"})
    void aLiveMigrationAcrossMajorVersionsEndsIdentical(int sourceMajor, int targetMajor) throws Exception {
        assumeTrue(TestPostgres.available(sourceMajor) && TestPostgres.available(targetMajor),
                "no embedded PostgreSQL " + sourceMajor + " or " + targetMajor + " binaries in target/pg-binaries");
        try (TestPostgres source = TestPostgres.start(sourceMajor, Map.of()); TestPostgres target = TestPostgres.start(targetMajor, Map.of())) {
            MigrationFixture migration = new MigrationFixture(source, target, "matrix");
            try (Connection c = migration.source.open(); Statement s = c.createStatement()) {
                SampleDatabase.create(c, 300);
                s.execute(BULK);
            }
            try (Connection c = migration.target.open(); Statement s = c.createStatement()) {
                s.execute(SampleDatabase.schemaSql());
                s.execute(BULK);
            }
            try (Workload workload = new Workload(migration.source::open, sourceMajor, 50)) {
                workload.start();
                MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 2));
                agent.awaitStreaming(Duration.ofMinutes(2));
                source.execute("matrix",
                        // Streamed before its commit on 14+ (far over 64 kB), then committed.
                        "INSERT INTO public.bulk SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g",
                        // Streamed, then rolled back: nothing of it may arrive.
                        "DO $$ BEGIN INSERT INTO public.bulk SELECT g, 'rolled back' FROM generate_series(100001, 120000) g;"
                                + " RAISE EXCEPTION 'roll back'; EXCEPTION WHEN raise_exception THEN NULL; END $$",
                        // A subtransaction that aborts inside a big transaction that commits.
                        "DO $$ BEGIN UPDATE public.bulk SET payload = 'kept' WHERE id <= 10000;"
                                + " BEGIN DELETE FROM public.bulk WHERE id > 10000; RAISE EXCEPTION 'undo the delete';"
                                + " EXCEPTION WHEN raise_exception THEN NULL; END; END $$");
                workload.awaitTransactions(workload.transactions() + 100, Duration.ofMinutes(1));
                workload.close();
                String summary = migration.cutover(Duration.ofMinutes(2));
                assertTrue(summary.contains("migration finished"), summary);
                agent.awaitSummary(Duration.ofSeconds(60));
            }
            ComparisonResult result = migration.compare();
            assertTrue(result.identical(), String.join("\n", result.differences()));
            assertEquals("20000", target.queryValue("matrix", "SELECT count(*) FROM public.bulk"));
            assertEquals("10000", target.queryValue("matrix", "SELECT count(*) FROM public.bulk WHERE payload = 'kept'"));
            if (sourceMajor >= 14) {
                assertTrue(migration.log("stream.log").contains("replayed big transaction"), "the big transaction was streamed and spilled");
            }
        }
    }
}
