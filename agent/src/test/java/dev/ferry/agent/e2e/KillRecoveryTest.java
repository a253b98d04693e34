package dev.ferry.agent.e2e;

import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.replication.Lsn;
import dev.ferry.testing.Deadline;
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

    private static long copiedChunks(MigrationFixture migration) {
        String count = target.queryValue("killed", "SELECT CASE WHEN to_regclass('ferry.copy_progress') IS NULL THEN 0 ELSE (SELECT count(*) FROM ferry.copy_progress) END");
        return count == null ? 0 : Long.parseLong(count);
    }
}
