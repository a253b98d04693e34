package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A whole live migration on real servers while a writer keeps changing the source. */
@Timeout(300)
class LiveMigrationTest extends TwoServers {
    @Test
    void liveMigrationUnderConcurrentWritesEndsIdenticalAfterCutover() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "live");
        try (Connection c = migration.source.open()) {
            SampleDatabase.create(c, 2000);
        }
        try (Workload workload = new Workload(migration.source::open, 7)) {
            workload.start();
            workload.awaitTransactions(200, Duration.ofSeconds(60));
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
            agent.awaitStreaming(Duration.ofMinutes(3));
            // Planner statistics are gathered in the background once the copy is done, while the stream runs.
            Deadline.await("ANALYZE of every copied table on the target", Duration.ofMinutes(2), () -> "0".equals(target.queryValue("live",
                    "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname <> 'ferry' AND last_analyze IS NULL")));
            long atStream = workload.transactions();
            workload.awaitTransactions(atStream + 1500, Duration.ofMinutes(2));
            workload.close();

            String summary = migration.cutover(Duration.ofMinutes(2));
            assertTrue(summary.contains("migration finished"), summary);
            assertEquals(summary, agent.awaitSummary(Duration.ofSeconds(60)));
        }

        ComparisonResult result = migration.compare();
        assertTrue(result.tablesCompared() > 5, "compared " + result.tablesCompared());
        assertTrue(result.identical(), String.join("\n", result.differences()));
        migration.assertLogsHideThePassword();
        assertEquals(0, migration.slotCount(), "slot dropped at cutover");
        assertEquals("0", source.queryValue("live", "SELECT count(*) FROM pg_publication"), "publications dropped at cutover");
        assertTrue(migration.log("stream.log").contains("no tuple identifier for UPDATE/DELETE in table"), "warning logged in stream.log");
        assertTrue(migration.log("snapshot.log").contains("copied "), "per-table copy lines in snapshot.log");
        assertTrue(migration.log("snapshot.log").contains("analyze: gathered planner statistics for "), migration.log("snapshot.log"));
    }

    /**
     * With the application stopped the source writes no WAL, and its insert position may sit just past a page header
     * (here: a new segment's, after a switch) where the stream can never get to. The cutover drains to the boundary
     * instead of waiting for the next WAL some background process happens to write (up to 15 s, or never).
     */
    @Test
    void cutoverOfAnIdleSourceWhoseWalEndsOnAPageBoundaryFinishes() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "idle");
        source.execute("idle", "CREATE TABLE public.t (id int PRIMARY KEY)", "INSERT INTO public.t SELECT generate_series(1, 100)");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        agent.awaitStreaming(Duration.ofMinutes(2));
        source.execute("idle", "INSERT INTO public.t VALUES (101)", "SELECT pg_switch_wal()");

        String summary = migration.cutover(Duration.ofSeconds(5));
        assertTrue(summary.contains("migration finished"), summary);
        assertEquals(summary, agent.awaitSummary(Duration.ofSeconds(30)));
        assertEquals("101", target.queryValue("idle", "SELECT count(*) FROM public.t"));
    }
}
