package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A big source transaction, which the source streams while it is in progress (TestPostgres runs with
 * logical_decoding_work_mem = 64kB), is applied on the target while it streams and committed at its commit, with
 * subtransactions rolled back or released, small transactions committing around it, a rolled-back one leaving
 * nothing, a kill -9 in its middle, and the replay from the spill file where the eager path gives up.
 */
@Timeout(240)
class BigTransactionTest extends TwoServers {
    /** Table f has no key (REPLICA IDENTITY FULL): a row applied twice would show as two rows. */
    private static final String[] TABLES = {
            "CREATE TABLE public.a (id int PRIMARY KEY, v text)",
            "CREATE TABLE public.b (id int PRIMARY KEY, v text)",
            "CREATE TABLE public.f (n int, v text)",
            "ALTER TABLE public.f REPLICA IDENTITY FULL",
            "CREATE TABLE public.marker (id int PRIMARY KEY)",
            "INSERT INTO public.a SELECT i, 'copied' FROM generate_series(1, 1000) i"};
    private static final String EAGER = "applied while it streamed";
    private static final String REPLAYED = "replayed big transaction";

    @Test
    void bigTransactionIsAppliedWhileItStreamsAndARolledBackOneLeavesNothing() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "eager");
        source.execute("eager", TABLES);
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
        agent.awaitStreaming(Duration.ofSeconds(120));
        int marker = touchEveryTable(migration, 1);

        try (Connection big = migration.source.open(); Connection small = migration.source.open(); Statement s = big.createStatement();
             Statement other = small.createStatement()) {
            big.setAutoCommit(false);
            s.execute("INSERT INTO public.a SELECT i, repeat('x', 100) FROM generate_series(10001, 15000) i");
            s.execute("UPDATE public.a SET v = 'updated in the big one' WHERE id <= 500");
            s.execute("DELETE FROM public.a WHERE id BETWEEN 501 AND 600");
            Savepoint rolledBack = big.setSavepoint();
            s.execute("INSERT INTO public.b SELECT i, 'rolled back' FROM generate_series(100001, 103000) i");
            s.execute("UPDATE public.a SET v = 'rolled back' WHERE id BETWEEN 601 AND 700");
            big.rollback(rolledBack);
            Savepoint released = big.setSavepoint();
            s.execute("INSERT INTO public.f SELECT i, repeat('f', 50) FROM generate_series(1, 3000) i");
            big.releaseSavepoint(released);
            // Nested: rolling back the outer one also undoes the inner one released into it.
            Savepoint outer = big.setSavepoint();
            s.execute("INSERT INTO public.b SELECT i, 'outer' FROM generate_series(300001, 300500) i");
            Savepoint inner = big.setSavepoint();
            s.execute("INSERT INTO public.f SELECT i, 'inner' FROM generate_series(-600, -100) i");
            big.releaseSavepoint(inner);
            s.execute("UPDATE public.a SET v = 'outer again' WHERE id BETWEEN 701 AND 800");
            big.rollback(outer);
            awaitEagerLock(migration, "a");
            assertEquals("1000", target.queryValue("eager", "SELECT count(*) FROM public.a"), "nothing of it is visible before its commit");

            // Small transactions commit on the same tables while it is open, and reach the target before it.
            other.execute("INSERT INTO public.a VALUES (20001, 'small')");
            other.execute("UPDATE public.a SET v = 'small' WHERE id = 900");
            other.execute("INSERT INTO public.b VALUES (2, 'small')");
            other.execute("INSERT INTO public.f VALUES (-1, 'small')");
            Deadline.await("the small transactions on the target", Duration.ofSeconds(60), () -> {
                agent.failIfDead();
                return "small".equals(target.queryValue("eager", "SELECT v FROM public.a WHERE id = 900"))
                        && "1".equals(target.queryValue("eager", "SELECT count(*) FROM public.f WHERE n = -1"));
            });

            s.execute("UPDATE public.a SET v = 'after the small one' WHERE id = 900");
            s.execute("INSERT INTO public.a SELECT i, repeat('y', 100) FROM generate_series(15001, 16000) i");
            big.commit();

            // More rows than the applier queues before executing them (5,000): the tail of a transaction still in
            // progress may not have been streamed yet.
            s.execute("INSERT INTO public.b SELECT i, 'rolled back whole' FROM generate_series(200001, 212000) i");
            awaitEagerLock(migration, "b");
            big.rollback();
        }
        awaitMarker(migration, agent, marker + 1);
        assertEquals("0", target.queryValue("eager", "SELECT count(*) FROM public.b WHERE id > 100000"), "rolled back rows never reach the target");
        assertEquals("after the small one", target.queryValue("eager", "SELECT v FROM public.a WHERE id = 900"));
        String log = migration.log("stream.log");
        assertEquals(1, occurrences(log, EAGER), "the committed big transaction went the eager way:\n" + log);
        assertFalse(log.contains(REPLAYED), log);

        migration.cutover(Duration.ofSeconds(90));
        agent.awaitSummary(Duration.ofSeconds(30));
        migration.assertIdentical();
    }

    @Test
    void killedWhileApplyingABigTransactionRestartsToExactlyTheSource() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "eagerkill");
        source.execute("eagerkill", TABLES);
        Process first = migration.startChild(1, "copy");
        awaitStreaming(migration, first);
        int marker = touchEveryTable(migration, 1);
        try (Connection big = migration.source.open(); Statement s = big.createStatement()) {
            big.setAutoCommit(false);
            s.execute("INSERT INTO public.f SELECT i, repeat('f', 50) FROM generate_series(1, 20000) i");
            s.execute("INSERT INTO public.a SELECT i, repeat('x', 100) FROM generate_series(10001, 30000) i");
            awaitEagerLock(migration, "f");
            first.destroyForcibly();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            s.execute("UPDATE public.a SET v = 'after the kill' WHERE id <= 500");
            s.execute("INSERT INTO public.f SELECT i, 'after the kill' FROM generate_series(20001, 21000) i");
            big.commit();
        }
        assertFalse(migration.log("stream.log").contains(EAGER), "killed before its commit");

        Process second = migration.startChild(1, "copy");
        awaitStreaming(migration, second);
        source.execute("eagerkill", "INSERT INTO public.marker VALUES (" + (marker + 1) + ")");
        migration.awaitWhileRunning(second, "the restarted agent", "the restarted agent to apply the big transaction", Duration.ofSeconds(120),
                () -> "1".equals(target.queryValue("eagerkill", "SELECT count(*) FROM public.marker WHERE id = " + (marker + 1))));
        assertEquals("21000", target.queryValue("eagerkill", "SELECT count(*) FROM public.f WHERE n > 0"), "each row once");
        migration.cutoverUntilExit(second, Duration.ofSeconds(90));
        migration.assertIdentical();
    }

    /** A TRUNCATE inside the big transaction sends it back to the spill file, replayed at its commit as before. */
    @Test
    void bigTransactionTheEagerPathCannotTakeIsReplayedFromItsSpillFile() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "eagerfallback");
        source.execute("eagerfallback", TABLES);
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
        agent.awaitStreaming(Duration.ofSeconds(120));
        int marker = touchEveryTable(migration, 1);
        try (Connection big = migration.source.open(); Statement s = big.createStatement()) {
            big.setAutoCommit(false);
            s.execute("INSERT INTO public.a SELECT i, repeat('x', 100) FROM generate_series(10001, 15000) i");
            s.execute("TRUNCATE public.b");
            s.execute("INSERT INTO public.b SELECT i, repeat('b', 100) FROM generate_series(1, 3000) i");
            s.execute("DELETE FROM public.a WHERE id <= 10");
            big.commit();
        }
        source.execute("eagerfallback", "INSERT INTO public.marker VALUES (" + (marker + 1) + ")");
        awaitMarker(migration, agent, marker + 1);
        String log = migration.log("stream.log");
        assertTrue(log.contains("is replayed from its spill file at its commit, not applied while it streams: it truncates a table"), log);
        assertTrue(log.contains(REPLAYED), log);
        assertFalse(log.contains(EAGER), log);
        migration.cutover(Duration.ofSeconds(90));
        agent.awaitSummary(Duration.ofSeconds(30));
        migration.assertIdentical();
    }

    /**
     * A small committed change on every table, so the stream has applied each table's definition (the eager path
     * takes only definitions the stream already applies); returns the marker written last, once it is on the target.
     */
    private static int touchEveryTable(MigrationFixture migration, int marker) {
        source.execute(migration.database, "UPDATE public.a SET v = 'touched' WHERE id = 1", "INSERT INTO public.b VALUES (1, 'touched')",
                "INSERT INTO public.f VALUES (0, 'touched')", "INSERT INTO public.marker VALUES (" + marker + ")");
        Deadline.await("the first changes on the target", Duration.ofSeconds(60),
                () -> "1".equals(target.queryValue(migration.database, "SELECT count(*) FROM public.marker WHERE id = " + marker)));
        return marker;
    }

    private static void awaitMarker(MigrationFixture migration, MigrationFixture.InProcessAgent agent, int marker) {
        source.execute(migration.database, "INSERT INTO public.marker VALUES (" + marker + ") ON CONFLICT DO NOTHING");
        Deadline.await("marker " + marker + " on the target", Duration.ofSeconds(60), () -> {
            agent.failIfDead();
            return "1".equals(target.queryValue(migration.database, "SELECT count(*) FROM public.marker WHERE id = " + marker));
        });
    }

    /** Waits until a target session other than this one holds a write lock on the table: the eager transaction's, still open. */
    private static void awaitEagerLock(MigrationFixture migration, String table) {
        Deadline.await("the open big transaction's changes applied on the target", Duration.ofSeconds(60), () -> !"0".equals(target.queryValue(migration.database,
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.relation = 'public." + table + "'::regclass"
                        + " AND l.mode = 'RowExclusiveLock' AND a.state = 'idle in transaction' AND l.pid <> pg_backend_pid()")));
    }

    private static void awaitStreaming(MigrationFixture migration, Process agent) {
        migration.awaitStreamingChild(agent, "the agent", "the agent to stream", Duration.ofSeconds(120));
    }

    private static int occurrences(String text, String part) {
        int count = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) count++;
        return count;
    }
}
