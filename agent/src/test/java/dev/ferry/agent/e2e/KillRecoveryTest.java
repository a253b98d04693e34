package dev.ferry.agent.e2e;

import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.replication.Lsn;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `ferry run` in a child JVM killed with SIGKILL during the copy and again during the stream, then restarted. */
@Timeout(400)
class KillRecoveryTest extends TwoServers {
    @Test
    void killedDuringCopyAndDuringStreamResumesToAnIdenticalTarget() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "killed");
        try (Connection c = migration.source.open()) {
            SampleDatabase.create(c, 2000);
        }
        // Enough data that the copy is still running when the kill lands: several tables of ~20 MB, one worker.
        for (int i = 1; i <= 6; i++) {
            source.execute("killed", "CREATE TABLE public.bulk_" + i + " (id bigint PRIMARY KEY, payload text)",
                    "INSERT INTO public.bulk_" + i + " SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g");
        }
        try (Workload workload = new Workload(migration.source::open, 11)) {
            workload.start();

            Process first = migration.startChild(1, "copy");
            Deadline.await("the first chunk to be copied", Duration.ofMinutes(2), () ->
                    migration.state().filter(s -> s.phase() == MigrationState.Phase.COPY).isPresent() && copiedChunks(migration) > 0);
            first.destroyForcibly();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            assertEquals(MigrationState.Phase.COPY, migration.state().orElseThrow().phase(), "killed during the copy");

            Process second = migration.startChild(2, "copy");
            Deadline.await("the restarted agent to stream and apply", Duration.ofMinutes(3), () -> {
                if (!second.isAlive()) throw new AssertionError("the restarted agent exited with " + second.exitValue() + "; see " + migration.logDir);
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM
                        && s.appliedLsn().isAfter(s.consistentLsn())).isPresent();
            });
            long before = workload.transactions();
            workload.awaitTransactions(before + 300, Duration.ofMinutes(1));
            Lsn appliedBeforeKill = migration.state().orElseThrow().appliedLsn();
            second.destroyForcibly();
            assertTrue(second.waitFor(30, TimeUnit.SECONDS));
            workload.awaitTransactions(workload.transactions() + 300, Duration.ofMinutes(1));

            Process third = migration.startChild(2, "copy");
            Deadline.await("the third agent to apply past the kill point", Duration.ofMinutes(2), () -> {
                if (!third.isAlive()) throw new AssertionError("the third agent exited with " + third.exitValue() + "; see " + migration.logDir);
                return migration.state().filter(s -> s.appliedLsn().isAfter(appliedBeforeKill) && s.heartbeatAt().isPresent()).isPresent();
            });
            workload.close();
            String summary = migration.cutover(Duration.ofMinutes(2));
            assertTrue(summary.contains("migration finished"), summary);
            assertTrue(third.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
            assertEquals(0, third.exitValue());
        }
        ComparisonResult result = migration.compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
        migration.assertLogsHideThePassword();
        assertEquals(0, migration.slotCount());
    }

    /**
     * A kill between a key's CREATE UNIQUE INDEX and its ADD CONSTRAINT ... USING INDEX, on a table the copy had
     * finished: the restart copies that table no more, so it must still attach the key (pg_restore alone would stop
     * on the index's name). The state is set up by hand so the test does not depend on where the kill lands.
     */
    @Test
    void aKeyLeftHalfBuiltByAKillIsAttachedOnRestart() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "halfkey");
        for (int i = 1; i <= 4; i++) {
            source.execute("halfkey", "CREATE TABLE public.bulk_" + i + " (id bigint PRIMARY KEY, payload text)",
                    "INSERT INTO public.bulk_" + i + " SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g");
        }
        Process first = migration.startChild(1, "copy");
        Deadline.await("the first table to be copied", Duration.ofMinutes(2), () ->
                migration.state().filter(s -> s.phase() == MigrationState.Phase.COPY).isPresent() && copiedChunks(target, "halfkey") > 0);
        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        Deadline.await("the killed agent's statements to end on the target", Duration.ofMinutes(1), () -> "0".equals(target.queryValue("halfkey",
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'")));
        String table = target.queryValue("halfkey", "SELECT table_name FROM ferry.copy_progress ORDER BY 1 LIMIT 1");
        target.execute("halfkey", "ALTER TABLE public." + table + " DROP CONSTRAINT IF EXISTS " + table + "_pkey",
                "DROP INDEX IF EXISTS public." + table + "_pkey",
                "CREATE UNIQUE INDEX " + table + "_pkey ON public." + table + " (id)");

        Process second = migration.startChild(1, "copy");
        Deadline.await("the restarted agent to reach the stream", Duration.ofMinutes(3), () -> {
            if (!second.isAlive()) throw new AssertionError("the restarted agent exited with " + second.exitValue() + "; see " + migration.logDir);
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
        assertEquals("p", target.queryValue("halfkey", "SELECT contype FROM pg_constraint WHERE conname = '" + table + "_pkey'"),
                table + "'s primary key is attached");
        String summary = migration.cutover(Duration.ofMinutes(2));
        assertTrue(summary.contains("migration finished"), summary);
        assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
        ComparisonResult result = migration.compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
    }

    private static long copiedChunks(MigrationFixture migration) {
        return copiedChunks(target, "killed");
    }

    private static long copiedChunks(TestPostgres server, String database) {
        String count = server.queryValue(database, "SELECT CASE WHEN to_regclass('ferry.copy_progress') IS NULL THEN 0 ELSE (SELECT count(*) FROM ferry.copy_progress) END");
        return count == null ? 0 : Long.parseLong(count);
    }
}
