package dev.ferry.agent.e2e;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an administrator does to a running migration: pg_terminate_backend on each of ferry's sessions (copy
 * workers on both servers, the walsender, the apply sessions, the agent lock's session), and the slot dropped by
 * someone else or invalidated by max_slot_wal_keep_size, which `ferry run --restart-copy` recovers from.
 */
@Timeout(300)
class AdminActionTest extends TwoServers {
    @Test
    void everyFerrySessionTerminatedIsReplacedAndNothingIsLost() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "terminated");
        try (FaultRun run = new FaultRun(migration, "pg_terminate_backend on the copy workers, walsender, apply and lock sessions", 41)) {
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
            run.awaitCopying(() -> agent.outcome.get() == null);
            assertTrue(terminate(source, "terminated", "query LIKE 'COPY %'") + terminate(target, "terminated", "query LIKE 'COPY %'") > 0,
                    "copy workers were found and terminated");
            run.awaitStreaming(() -> agent.outcome.get() == null);
            run.awaitRecovered(Duration.ofMinutes(2), () -> agent.outcome.get() == null);

            assertEquals(1, terminate(source, "terminated", "backend_type = 'walsender'"), "the walsender");
            run.awaitRecovered(Duration.ofMinutes(2), () -> agent.outcome.get() == null);
            assertTrue(terminate(target, "terminated", "application_name = 'ferry'") > 0, "the apply sessions");
            run.awaitRecovered(Duration.ofMinutes(2), () -> {
                agent.failIfDead();
                return true;
            });
            String lockPid = lockHolder();
            assertEquals(1, terminate(target, "terminated", "pid = " + lockPid), "the agent lock's session");
            Deadline.await("the agent to take its lock again", Duration.ofSeconds(30), () -> {
                String now = lockHolder();
                return now != null && !now.equals(lockPid);
            });
            run.awaitRecovered(Duration.ofMinutes(2), () -> agent.outcome.get() == null);
            run.cutoverAndCompare();
            agent.awaitSummary(Duration.ofSeconds(30));
        }
    }

    @Test
    void slotDroppedBySomeoneElseIsReportedAndRestartCopyStartsOver() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "slotdropped");
        try (FaultRun run = new FaultRun(migration, "slot dropped by another session during the stream, then --restart-copy", 43)) {
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
            run.awaitStreaming(() -> agent.outcome.get() == null);
            String slot = MigrationConfig.defaultSlotName("slotdropped");
            Deadline.await("the slot to be dropped under the agent", Duration.ofSeconds(30), () -> {
                terminate(source, "slotdropped", "backend_type = 'walsender'");
                try {
                    source.execute("slotdropped", "SELECT pg_drop_replication_slot('" + slot + "')");
                    return true;
                } catch (IllegalStateException active) {
                    return false; // the agent reconnected first: terminate it again
                }
            });
            Deadline.await("the agent to stop", Duration.ofSeconds(60), () -> agent.outcome.get() != null);
            String error = agent.outcome.get() instanceof FerryException f ? f.describe() : String.valueOf(agent.outcome.get());
            assertTrue(error.contains("replication slot " + slot + " is gone from the source") && error.contains("--restart-copy"), error);

            // A table ferry did not create, on the target: --restart-copy must leave it and its row alone.
            target.execute("slotdropped", "CREATE TABLE public.not_ferrys (id int PRIMARY KEY)", "INSERT INTO public.not_ferrys VALUES (1)");
            restartCopyAndFinish(migration, run, () -> {
                assertEquals("1", target.queryValue("slotdropped", "SELECT count(*) FROM public.not_ferrys"), "a table ferry did not create is untouched");
                target.execute("slotdropped", "DROP TABLE public.not_ferrys");
            });
        }
    }

    @Test
    void slotInvalidatedByMaxSlotWalKeepSizeIsReportedAndRestartCopyStartsOver() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "slotlost");
        try (FaultRun run = new FaultRun(migration, "slot invalidated (max_slot_wal_keep_size) while ferry was down, then --restart-copy", 47)) {
            Process first = migration.startChild(1, "copy");
            run.awaitStreaming(first::isAlive);
            first.destroyForcibly();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            String slot = MigrationConfig.defaultSlotName("slotlost");
            try {
                source.execute("postgres", "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()",
                        "CREATE TABLE IF NOT EXISTS wal_filler (payload text)");
                Deadline.await("the slot to be invalidated", Duration.ofSeconds(60), () -> {
                    source.execute("postgres", "INSERT INTO wal_filler SELECT repeat('x', 500) FROM generate_series(1, 20000)",
                            "SELECT pg_switch_wal()", "CHECKPOINT");
                    return "lost".equals(source.queryValue("postgres", "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + slot + "'"));
                });
            } finally {
                source.execute("postgres", "ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()", "DROP TABLE IF EXISTS wal_filler");
            }
            Process refused = migration.startChild(1, "copy");
            assertTrue(refused.waitFor(120, TimeUnit.SECONDS), "a run on a lost slot stops");
            assertNotEquals(0, refused.exitValue());
            String console = migration.log("child-console.log");
            assertTrue(console.contains("replication slot " + slot + " is invalidated (wal_status lost)") && console.contains("--restart-copy"), console);

            restartCopyAndFinish(migration, run, () -> {});
        }
    }

    /** `ferry run --restart-copy` in a child JVM: starts over, streams, cuts over; databases identical. */
    private static void restartCopyAndFinish(MigrationFixture migration, FaultRun run, Runnable onceStreaming) throws Exception {
        migration.extraArgs.add("--restart-copy");
        Process restarted = migration.startChild(1, "copy");
        run.awaitStreaming(restarted::isAlive);
        onceStreaming.run();
        run.awaitRecovered(Duration.ofMinutes(2), restarted::isAlive);
        run.cutoverAndCompare();
        assertTrue(restarted.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
        assertEquals(0, restarted.exitValue());
        assertTrue(migration.log("ferry.log").contains("--restart-copy: emptied"), "the restart says what it emptied");
    }

    private static long terminate(TestPostgres server, String database, String which) {
        return Long.parseLong(server.queryValue(database, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                + "WHERE pid <> pg_backend_pid() AND (datname = current_database() OR backend_type = 'walsender') AND " + which));
    }

    /** The target session holding the migration's advisory lock (see AgentLock), or null. */
    private static String lockHolder() {
        return target.queryValue("postgres", "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1717924473 AND objid = 1 AND granted");
    }
}
