package dev.ferry.agent.preflight;

import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The size check's read sample stays a few MB when the largest table holds wide TOASTed rows. */
@Timeout(120)
class SizeEstimateTest {
    private static TestPostgres server;

    @TempDir
    Path workDir;

    @BeforeAll
    static void start() {
        server = TestPostgres.start();
        server.createDatabase("docs");
        server.createDatabase("docs_target");
        // 3,000 documents of 12 kB of incompressible text: 36 MB, nearly all of it in TOAST.
        server.execute("docs", "CREATE TABLE documents (id int PRIMARY KEY, body text NOT NULL)",
                "INSERT INTO documents SELECT i, (SELECT string_agg(md5(i::text || '.' || j), '') FROM generate_series(1, 375) j) FROM generate_series(1, 3000) i",
                "ANALYZE documents");
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void theReadSampleOfWideRowsIsSizedByBytesNotRows() throws Exception {
        MigrationConfig config = new MigrationConfig(ConnectionSpec.parse("source", server.uri("docs")), ConnectionSpec.parse("target", server.uri("docs_target")),
                2, workDir, workDir, MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP, "ferry_docs",
                Set.of(), Set.of(), 0, Duration.ofSeconds(10));
        List<CheckResult> results;
        try (PreflightContext context = new PreflightContext(config)) {
            results = new SizeEstimate().run(context);
        }
        assertEquals(CheckResult.Status.PASS, results.get(0).status());
        assertTrue(results.get(0).summary().contains("a read sample ran at"), results.get(0).summary());
        // The sample is the only scan of the table; its session has ended, so its statistics reach the server.
        String rowsRead = "SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'documents'";
        Deadline.await("the sample's statistics", Duration.ofSeconds(30), () -> Long.parseLong(server.queryValue("docs", rowsRead)) > 0);
        long read = Long.parseLong(server.queryValue("docs", rowsRead));
        // 4 MB of 12 kB rows: about 340 of them, not the whole table.
        assertTrue(read < 1000, "the sample read " + read + " of 3,000 documents");
    }
}
