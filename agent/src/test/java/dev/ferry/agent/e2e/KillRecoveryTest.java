package dev.ferry.agent.e2e;

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
            migration.awaitWhileRunning(second, "the restarted agent", "the restarted agent to stream and apply", Duration.ofMinutes(3),
                    () -> migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.appliedLsn().isAfter(s.consistentLsn())).isPresent());
            long before = workload.transactions();
            workload.awaitTransactions(before + 300, Duration.ofMinutes(1));
            Lsn appliedBeforeKill = migration.state().orElseThrow().appliedLsn();
            second.destroyForcibly();
            assertTrue(second.waitFor(30, TimeUnit.SECONDS));
            workload.awaitTransactions(workload.transactions() + 300, Duration.ofMinutes(1));

            Process third = migration.startChild(2, "copy");
            // The killed agent may have applied past appliedBeforeKill before it died: only the third agent's own record
            // says it runs (a cutover requested before it took the lock finds no agent).
            migration.awaitWhileRunning(third, "the third agent", "the third agent to apply past the kill point", Duration.ofMinutes(2),
                    () -> migration.state().filter(s -> s.appliedLsn().isAfter(appliedBeforeKill) && s.heartbeatAt().isPresent()
                            && s.agent().filter(a -> a.pid() == third.pid()).isPresent()).isPresent());
            workload.close();
            migration.cutoverUntilExit(third, Duration.ofMinutes(2));
            assertEquals(0, third.exitValue());
        }
        migration.assertIdentical();
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
        migration.awaitStreamingChild(second, "the restarted agent", "the restarted agent to reach the stream", Duration.ofMinutes(3));
        assertEquals("p", target.queryValue("halfkey", "SELECT contype FROM pg_constraint WHERE conname = '" + table + "_pkey'"),
                table + "'s primary key is attached");
        migration.cutoverUntilExit(second, Duration.ofMinutes(2));
        migration.assertIdentical();
    }

    /**
     * A kill during the copy after the parent table was copied and before the child was: the restart copies the child
     * again in a later snapshot, which can hold rows whose parent arrived after the first snapshot; post-data's foreign
     * key then failed ("Key (parent_id)=(1001) is not present in table parent") before the stream could bring the parent
     * up to date. Found by SeededKillTest seeds 9 and 17. The state is set up by hand (the copy of "child" undone, its
     * key not yet built, as post-data had not run) so the test does not depend on where a kill lands.
     */
    @Test
    void aTableCopiedAgainIsCopiedWithTheTablesItsForeignKeysJoin() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "fkresume");
        source.execute("fkresume", "CREATE TABLE public.parent (id int PRIMARY KEY)",
                "CREATE TABLE public.child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES public.parent)",
                "INSERT INTO public.parent SELECT g FROM generate_series(1, 1000) g",
                "INSERT INTO public.child SELECT g, g FROM generate_series(1, 1000) g");
        Process first = migration.startChild(1, "copy");
        migration.awaitStreamingChild(first, "the agent", "the first agent to stream", Duration.ofMinutes(2));
        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        // As if killed in the copy: "parent" copied, "child" not, post-data not run.
        target.execute("fkresume", "UPDATE ferry.migration SET phase = 'copy'",
                "DELETE FROM ferry.copy_progress WHERE table_name = 'child'",
                "ALTER TABLE public.child DROP CONSTRAINT child_parent_id_fkey");
        source.execute("fkresume", "INSERT INTO public.parent VALUES (1001)", "INSERT INTO public.child VALUES (1001, 1001)");

        Process second = migration.startChild(1, "copy");
        migration.awaitStreamingChild(second, "the restarted agent", "the restarted agent to stream", Duration.ofMinutes(2));
        assertTrue(migration.log("ferry.log").contains("copying 2 tables again"), "parent is copied again with child");
        migration.cutoverUntilExit(second, Duration.ofMinutes(2));
        migration.assertIdentical();
    }

    private static long copiedChunks(MigrationFixture migration) {
        return copiedChunks(target, "killed");
    }

    private static long copiedChunks(TestPostgres server, String database) {
        String count = server.queryValue(database, "SELECT CASE WHEN to_regclass('ferry.copy_progress') IS NULL THEN 0 ELSE (SELECT count(*) FROM ferry.copy_progress) END");
        return count == null ? 0 : Long.parseLong(count);
    }
}
