package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Whether an agent is running, as `ferry cutover`, `ferry status` and a second `ferry run` see it: the running agent
 * holds an advisory lock on the target, so a dead one is noticed at once and a starting one is waited for, whatever
 * its heartbeat says. Agents run as child JVMs where the test kills them with SIGKILL.
 */
@Timeout(300)
class AgentLivenessTest extends TwoServers {
    private static final String TABLE = "CREATE TABLE public.t (id int PRIMARY KEY, v int)";
    /** The agent lock's key, as docs/operations.md documents it for DBAs looking at pg_locks. */
    private static final String LOCK_HOLDER = "SELECT coalesce((SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            + " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1717924473 AND l.objid = 1 AND l.objsubid = 2"
            + " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), 'none')";
    /** Sessions of this database waiting for a lock (a row lock the test holds). */
    private static final String LOCK_WAITERS = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";

    private static MigrationFixture prepared(String database) {
        MigrationFixture migration = new MigrationFixture(source, target, database);
        source.execute(database, TABLE, "INSERT INTO public.t SELECT g, 0 FROM generate_series(1, 100) g");
        target.execute(database, TABLE);
        return migration;
    }

    private static void awaitStreaming(MigrationFixture migration, Process agent) {
        Deadline.await("the agent to stream", Duration.ofMinutes(2), () -> {
            if (!agent.isAlive()) throw new AssertionError("the agent exited with " + agent.exitValue() + "; see " + migration.logDir);
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
    }

    @Test
    void cutoverFailsAtOnceWhenTheAgentHasStoppedOnAnErrorAndSaysWhich() {
        MigrationFixture migration = prepared("stopped");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 1));
        agent.awaitStreaming(Duration.ofMinutes(1));
        // A renamed column on the source stops the stream: the agent exits on an error naming the column.
        source.execute("stopped", "ALTER TABLE public.t RENAME COLUMN v TO renamed_later", "INSERT INTO public.t VALUES (1000, 1)");
        Deadline.await("the agent to stop on the new column", Duration.ofMinutes(1), () -> agent.outcome.get() instanceof Throwable);

        // Its heartbeat is seconds old; still the cutover must not wait out its 10 minutes.
        FerryException refused = assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> assertThrows(FerryException.class, () -> migration.cutover(Duration.ofMinutes(10))));
        assertTrue(refused.what().startsWith("no ferry agent is running for this migration"), refused.describe());
        assertTrue(refused.describe().contains("\"renamed_later\""), "the agent's last error: " + refused.describe());

        FerryCommand status = FerryCommand.run("status", "--target", target.uri("stopped"));
        assertEquals(ExitCode.OK, status.code(), status.err());
        assertTrue(status.out().contains("agent         not running (last: pid " + ProcessHandle.current().pid()), status.out());
        assertTrue(status.out().contains("renamed_later"), status.out());
    }

    @Test
    void aSecondAgentRefusesNamingTheFirstAndAKilledOneDoesNotBlockARestart() throws Exception {
        MigrationFixture migration = prepared("twice");
        Process first = migration.startChild(1, "existing");
        awaitStreaming(migration, first);
        FerryCommand status = FerryCommand.run("status", "--target", target.uri("twice"));
        assertTrue(status.out().contains("agent         running, pid " + first.pid() + " on host "), status.out());

        FerryCommand second = FerryCommand.run("run", "--source", source.uri("twice"), "--target", target.uri("twice"),
                "--schema", "existing", "--log-dir", migration.logDir.resolveSibling("logs-twice-second").toString());
        assertEquals(ExitCode.BAD_INPUT, second.code(), second.err());
        assertTrue(second.err().contains("another ferry agent is already running this migration: pid " + first.pid() + " on host "), second.err());
        assertTrue(second.err().contains(", since 20"), "says since when: " + second.err());
        assertTrue(first.isAlive(), "the first agent keeps running");

        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        Deadline.await("the killed agent's lock to go with its session", Duration.ofSeconds(30), () -> "none".equals(target.queryValue("twice", LOCK_HOLDER)));
        status = FerryCommand.run("status", "--target", target.uri("twice"));
        assertTrue(status.out().contains("agent         not running (last: pid " + first.pid()), status.out());

        // The state still names the killed agent: that record must not stop a restart.
        Process restarted = migration.startChild(1, "existing");
        Deadline.await("the restarted agent to hold the lock", Duration.ofMinutes(1), () -> {
            if (!restarted.isAlive()) throw new AssertionError("the restarted agent exited with " + restarted.exitValue() + "; see " + migration.logDir);
            return target.queryValue("twice", LOCK_HOLDER).startsWith("ferry agent pid " + restarted.pid() + " on ");
        });
        source.execute("twice", "UPDATE public.t SET v = 1");
        assertTrue(migration.cutover(Duration.ofMinutes(1)).contains("migration finished"));
        assertTrue(restarted.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
        assertEquals(0, restarted.exitValue());
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
    }

    /** The lock's session ends under the agent (a target restart, a network cut, a DBA): it takes the lock again. */
    @Test
    void anAgentTakesItsLockAgainAfterLosingItsSession() throws Exception {
        MigrationFixture migration = prepared("relock");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 1));
        agent.awaitStreaming(Duration.ofMinutes(1));
        String mine = "ferry agent pid " + ProcessHandle.current().pid() + " on ";
        assertTrue(target.queryValue("relock", LOCK_HOLDER).startsWith(mine));
        target.execute("relock", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ferry agent %'");
        Deadline.await("the agent to hold its lock on a new session", Duration.ofSeconds(30), () -> {
            agent.failIfDead();
            return target.queryValue("relock", LOCK_HOLDER).startsWith(mine);
        });
        source.execute("relock", "UPDATE public.t SET v = 2");
        assertTrue(migration.cutover(Duration.ofMinutes(1)).contains("migration finished"));
        agent.awaitSummary(Duration.ofSeconds(30));
        assertTrue(migration.log("ferry.log").contains("took the agent lock on the target again"), "logged");
        assertEquals("none", target.queryValue("relock", LOCK_HOLDER), "released when the agent ends");
    }

    /** The request is made while the agent is alive; the kill is noticed at the next poll, not after the timeout. */
    @Test
    void cutoverNoticesAnAgentKilledWhileItWaits() throws Exception {
        MigrationFixture migration = prepared("killedwaiting");
        Process agent = migration.startChild(1, "existing");
        awaitStreaming(migration, agent);
        try (Connection holder = migration.target.open()) {
            // A row lock of the test's keeps the agent from draining, so the cutover is still waiting at the kill.
            holder.setAutoCommit(false);
            try (Statement s = holder.createStatement()) {
                s.execute("SELECT * FROM public.t WHERE id = 1 FOR UPDATE");
            }
            source.execute("killedwaiting", "UPDATE public.t SET v = 1 WHERE id = 1");
            Deadline.await("the agent's apply to wait for the test's row lock", Duration.ofMinutes(1),
                    () -> !"0".equals(target.queryValue("killedwaiting", LOCK_WAITERS)));

            CompletableFuture<String> cutover = startCutover(migration);
            Deadline.await("the cutover request", Duration.ofSeconds(30),
                    () -> migration.state().flatMap(MigrationState::cutoverLsn).isPresent() || cutover.isDone());
            agent.destroyForcibly();
            assertTrue(agent.waitFor(30, TimeUnit.SECONDS));
            FerryException noticed = failure(cutover, Duration.ofSeconds(30));
            assertTrue(noticed.what().startsWith("no ferry agent is running for this migration any more"), noticed.describe());
            assertTrue(noticed.describe().contains("it left no error"), noticed.describe());
            holder.rollback();
        }
        assertTrue(migration.state().flatMap(MigrationState::cutoverLsn).isEmpty(), "the request nobody acts on is withdrawn");
    }

    /**
     * Right after a restart the agent holds its lock but has not streamed yet; its state says "last heartbeat never"
     * (as after a kill before the stream's first one). A row lock of the test's on ferry's state holds the restarted
     * agent there, so the cutover surely comes before its first heartbeat; it must wait, and then finish.
     */
    @Test
    void cutoverWaitsForARestartedAgentThatHasNotStreamedYet() throws Exception {
        MigrationFixture migration = prepared("starting");
        Process first = migration.startChild(1, "existing");
        awaitStreaming(migration, first);
        source.execute("starting", "UPDATE public.t SET v = 1 WHERE id <= 10");
        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        Deadline.await("the killed agent's sessions to end", Duration.ofSeconds(60), () -> "0".equals(target.queryValue("starting",
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")));
        target.execute("starting", "UPDATE ferry.migration SET heartbeat_at = NULL");

        try (Connection holder = migration.target.open()) {
            holder.setAutoCommit(false);
            try (Statement s = holder.createStatement()) {
                s.execute("SELECT * FROM ferry.migration FOR UPDATE");
            }
            Process restarted = migration.startChild(1, "existing");
            Deadline.await("the restarted agent to wait for the test's lock on its state", Duration.ofMinutes(1), () -> {
                if (!restarted.isAlive()) throw new AssertionError("the restarted agent exited with " + restarted.exitValue() + "; see " + migration.logDir);
                return !"0".equals(target.queryValue("starting", LOCK_WAITERS));
            });
            assertTrue(migration.state().orElseThrow().heartbeatAt().isEmpty(), "the starting agent has written no heartbeat");

            CompletableFuture<String> cutover = startCutover(migration);
            Deadline.await("the cutover to wait for the starting agent (two sessions waiting for the test's lock)", Duration.ofSeconds(30), () -> {
                if (cutover.isDone()) fail("the cutover did not wait for the starting agent: " + failure(cutover, Duration.ZERO).describe());
                return "2".equals(target.queryValue("starting", LOCK_WAITERS));
            });
            holder.commit();
            String summary = cutover.get(2, TimeUnit.MINUTES);
            assertTrue(summary.contains("migration finished"), summary);
            assertTrue(restarted.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
            assertEquals(0, restarted.exitValue());
        }
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        assertEquals(0, migration.slotCount());
    }

    private static CompletableFuture<String> startCutover(MigrationFixture migration) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return migration.cutover(Duration.ofMinutes(10));
            } catch (SQLException e) {
                throw new CompletionException(e);
            }
        });
    }

    /** The FerryException the cutover ended with, within {@code within}. */
    private static FerryException failure(CompletableFuture<String> cutover, Duration within) {
        try {
            String summary = within.isZero() ? cutover.getNow(null) : cutover.get(within.toMillis(), TimeUnit.MILLISECONDS);
            throw new AssertionError("the cutover finished: " + summary);
        } catch (TimeoutException e) {
            throw new AssertionError("the cutover was still waiting after " + within.toSeconds() + " s");
        } catch (ExecutionException | CompletionException e) {
            if (e.getCause() instanceof FerryException f) return f;
            throw new AssertionError("the cutover failed otherwise", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
