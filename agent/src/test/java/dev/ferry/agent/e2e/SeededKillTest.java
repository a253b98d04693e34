package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.MigrationState.Phase;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `ferry run` (a child JVM) killed with SIGKILL at a point chosen by a seed, under a live writer, then started again,
 * cut over and compared row by row. Seed n kills at {@link Point} number n modulo their count, after a delay the seed
 * draws, so seeds 1 to 8 cover every point and more seeds vary the moment. The fast tier runs seeds 1-3 (copy, big
 * transaction spill and replay, cutover after the slot drop); the long tier, documented in docs/reliability.md:
 * {@code -Dferry.faults.seeds=40}; one seed again: {@code -Dferry.faults.seed=17}.
 */
@Timeout(600)
class SeededKillTest extends TwoServers {
    /** Where the kill lands; the delay after the point is reached is drawn from the seed, up to maxDelayMillis. */
    enum Point {
        COPY(300), STREAM_BIG_TRANSACTION(1500), CUTOVER_AFTER_SLOT_DROP(0), SCHEMA_RESTORE(400), INDEX_BUILD(3000),
        POST_DATA(50), STREAM_BATCH(1000), CUTOVER_BEFORE_SLOT_DROP(300);

        final int maxDelayMillis;

        Point(int maxDelayMillis) { this.maxDelayMillis = maxDelayMillis; }
    }

    static LongStream seeds() {
        if (System.getProperty("ferry.faults.seed") != null) return LongStream.of(Long.getLong("ferry.faults.seed"));
        return LongStream.rangeClosed(1, Long.getLong("ferry.faults.seeds", 3));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void killedAtASeededPointResumesToAnIdenticalTarget(long seed) throws Exception {
        Point point = Point.values()[(int) ((seed - 1) % Point.values().length)];
        // SplittableRandom mixes the seed: java.util.Random drew nearly the same first delay for seeds 1, 9, 17, ...
        SplittableRandom random = new SplittableRandom(seed);
        int delay = point.maxDelayMillis == 0 ? 0 : random.nextInt(point.maxDelayMillis);
        System.out.printf("SEEDED-KILL seed %d: kill -9 at %s + %d ms (replay: -Dferry.faults.seed=%d)%n", seed, point, delay, seed);
        String database = "kill" + seed;
        MigrationFixture migration = new MigrationFixture(source, target, database);
        if (point == Point.INDEX_BUILD) {
            source.execute(database, "CREATE FUNCTION public.slow_key(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS "
                    + "$$ BEGIN PERFORM pg_sleep(0.0002); RETURN t; END $$");
        }
        try (FaultRun run = new FaultRun(migration, "kill -9 at " + point + " (seed " + seed + ")", seed)) {
            if (point == Point.INDEX_BUILD) {
                source.execute(database, "CREATE INDEX bulk_1_slow ON public.bulk_1 (public.slow_key(payload)) WHERE id <= 5000");
            }
            Process first = migration.startChild(1, "copy");
            CompletableFuture<String> cutover = reach(point, migration, run, first);
            pause(delay);
            Phase killedIn = migration.state().map(MigrationState::phase).orElse(Phase.SCHEMA);
            first.destroyForcibly();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            System.out.printf("SEEDED-KILL seed %d: killed in phase %s, slot %s%n", seed, killedIn.text(), migration.slotCount() == 0 ? "dropped" : "present");
            if (cutover != null) {
                // The killed agent's cutover request: `ferry cutover` says no agent runs, or had its summary already.
                try {
                    cutover.get(60, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException expected) {
                    // refused: the agent died under it
                }
            }
            releasePublicationLock();

            Process second = migration.startChild(1, "copy");
            Deadline.await("the restarted agent to stream or finish", Duration.ofMinutes(3), () -> {
                Phase phase = migration.state().map(MigrationState::phase).orElse(Phase.SCHEMA);
                if (phase == Phase.DONE) return true;
                if (!second.isAlive()) throw new AssertionError("the restarted agent exited with " + second.exitValue() + "; see " + migration.logDir);
                return phase == Phase.STREAM && migration.state().orElseThrow().heartbeatAt().isPresent();
            });
            if (migration.state().orElseThrow().phase() != Phase.DONE) {
                run.awaitRecovered(Duration.ofMinutes(2), second::isAlive);
            } else {
                // Killed after the cutover recorded its end: the restarted agent only drops what is left on the source
                // (the publications, when the kill came between the slot's drop and theirs) and exits.
                assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the restarted agent finishes the cutover's cleanup and exits");
            }
            run.cutoverAndCompare();
            assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
            assertEquals(0, second.exitValue());
        } finally {
            releasePublicationLock();
        }
    }

    /** Runs the migration up to {@code point}; returns the cutover under way, if the point is in the cutover. */
    private CompletableFuture<String> reach(Point point, MigrationFixture migration, FaultRun run, Process agent) throws Exception {
        String database = migration.database;
        switch (point) {
            case SCHEMA_RESTORE -> awaitPhase(migration, agent, Phase.SCHEMA);
            case COPY -> run.awaitCopying(agent::isAlive);
            case INDEX_BUILD -> Deadline.await("the target to build bulk_1_slow", Duration.ofMinutes(2), () -> {
                if (!agent.isAlive()) throw new AssertionError("the agent stopped; see " + migration.logDir);
                return "1".equals(target.queryValue(database, "SELECT count(*) FROM pg_stat_activity "
                        + "WHERE state = 'active' AND query LIKE 'CREATE INDEX bulk_1_slow%' AND pid <> pg_backend_pid()"));
            });
            case POST_DATA -> awaitPhase(migration, agent, Phase.POST_DATA);
            case STREAM_BATCH -> run.awaitStreaming(agent::isAlive);
            case STREAM_BIG_TRANSACTION -> {
                run.awaitStreaming(agent::isAlive);
                // Far over logical_decoding_work_mem (64 kB here): streamed in progress, spilled by ferry, replayed at commit.
                source.execute(database, "UPDATE public.bulk_2 SET payload = payload || 'x'");
            }
            case CUTOVER_BEFORE_SLOT_DROP, CUTOVER_AFTER_SLOT_DROP -> {
                run.awaitStreaming(agent::isAlive);
                run.workload.close();
                if (point == Point.CUTOVER_AFTER_SLOT_DROP) holdPublicationLock(database, MigrationConfig.defaultSlotName(database));
                CompletableFuture<String> cutover = CompletableFuture.supplyAsync(() -> {
                    try {
                        return migration.cutover(Duration.ofMinutes(2));
                    } catch (java.sql.SQLException e) {
                        throw new IllegalStateException(e);
                    }
                });
                if (point == Point.CUTOVER_AFTER_SLOT_DROP) {
                    // The publications' drop, right after the slot's, waits for the lock this test holds: the kill lands in between.
                    Deadline.await("the cutover to drop the slot", Duration.ofMinutes(2), () -> migration.slotCount() == 0);
                } else {
                    Deadline.await("the cutover to be requested", Duration.ofMinutes(1),
                            () -> migration.state().flatMap(MigrationState::cutoverLsn).isPresent());
                }
                return cutover;
            }
        }
        return null;
    }

    private static void awaitPhase(MigrationFixture migration, Process agent, Phase phase) {
        Deadline.await("phase " + phase.text(), Duration.ofMinutes(2), () -> {
            if (!agent.isAlive()) throw new AssertionError("the agent stopped; see " + migration.logDir);
            return migration.state().filter(s -> s.phase().compareTo(phase) >= 0).isPresent();
        });
    }

    private static Connection publicationLock;

    /** An open transaction that commented on ferry's publication: DROP PUBLICATION waits for it. */
    private static void holdPublicationLock(String database, String slot) throws Exception {
        publicationLock = source.connect(database);
        publicationLock.setAutoCommit(false);
        try (Statement s = publicationLock.createStatement()) {
            s.execute("COMMENT ON PUBLICATION " + MigrationConfig.publication(slot) + " IS 'held by SeededKillTest'");
        }
    }

    private static void releasePublicationLock() throws Exception {
        if (publicationLock == null) return;
        publicationLock.rollback();
        publicationLock.close();
        publicationLock = null;
    }

    /** The seeded delay between reaching a point and the kill: a moment chosen, not a synchronisation. */
    private static void pause(int millis) {
        LockSupport.parkNanos(Duration.ofMillis(millis).toNanos());
    }
}
