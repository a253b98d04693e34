package dev.ferry.agent.e2e;

import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.replication.Lsn;
import dev.ferry.testing.Deadline;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One case of the fault-injection suite: a small sample database plus a few bulk tables (so the copy lasts a few
 * seconds with one worker) under a live {@link Workload}; helpers to wait for the copy or the stream, to measure
 * recovery after a fault, and to end with a cutover and a row-by-row comparison. Each finished case prints one
 * {@code FAULT-RESULT} line (fault, rows compared, differences, recovery time) that docs/reliability.md is filled from.
 */
final class FaultRun implements AutoCloseable {
    static final int BULK_TABLES = 3;
    static final int BULK_ROWS = 60_000;

    final MigrationFixture migration;
    Workload workload;
    final String fault;
    private final long seed;
    private long recoveryMillis;

    FaultRun(MigrationFixture migration, String fault, long seed) throws SQLException {
        this.migration = migration;
        this.fault = fault;
        try (Connection c = migration.source.open()) {
            SampleDatabase.create(c, 500);
        }
        for (int i = 1; i <= BULK_TABLES; i++) {
            migration.sourceServer.execute(migration.database, "CREATE TABLE public.bulk_" + i + " (id bigint PRIMARY KEY, payload text)",
                    "INSERT INTO public.bulk_" + i + " SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, " + BULK_ROWS + ") g");
        }
        this.seed = seed;
        workload = new Workload(migration.source::open, seed);
        workload.start();
    }

    /**
     * A new writer after the source restarted: the old one lost its connection (its failure is expected and dropped;
     * whatever it committed before is on the source, which the comparison takes as the truth).
     */
    void replaceWriter() {
        replaceWriter(0);
    }

    /** A new writer of at most {@code transactionsPerSecond} (0: as fast as it can) in place of the running one. */
    void replaceWriter(int transactionsPerSecond) {
        try {
            workload.close();
        } catch (IllegalStateException lostItsConnection) {
            // the restart ended its session
        }
        workload = new Workload(migration.source::open, seed + workload.transactions(), transactionsPerSecond);
        workload.start();
    }

    /** Waits until the copy has finished at least one chunk and is still copying. */
    void awaitCopying(BooleanSupplier alive) {
        Deadline.await("the copy to finish its first chunk", Duration.ofMinutes(2), () -> {
            if (!alive.getAsBoolean()) throw new AssertionError("the agent stopped; see " + migration.logDir);
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.COPY).isPresent() && copiedChunks() > 0;
        });
    }

    /** Waits until the agent streams and has applied something past the copy's consistent point. */
    void awaitStreaming(BooleanSupplier alive) {
        Deadline.await("the agent to stream and apply", Duration.ofMinutes(3), () -> {
            if (!alive.getAsBoolean()) throw new AssertionError("the agent stopped; see " + migration.logDir);
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()
                    && s.appliedLsn().isAfter(s.consistentLsn())).isPresent();
        });
    }

    /**
     * Waits until the agent has applied everything the source had written when this was called; adds the time taken
     * to the recovery time reported. Call it right after a fault ends.
     */
    void awaitRecovered(Duration timeout, BooleanSupplier alive) {
        long start = System.nanoTime();
        Lsn now = Lsn.parse(migration.sourceServer.queryValue(migration.database, "SELECT pg_current_wal_insert_lsn()::text"));
        Deadline.await("the agent to apply past " + now + " after " + fault, timeout, () -> {
            if (!alive.getAsBoolean()) throw new AssertionError("the agent stopped; see " + migration.logDir);
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && !s.appliedLsn().isBefore(now)).isPresent();
        });
        recoveryMillis += (System.nanoTime() - start) / 1_000_000;
    }

    long copiedChunks() {
        String count = migration.targetServer.queryValue(migration.database,
                "SELECT CASE WHEN to_regclass('ferry.copy_progress') IS NULL THEN 0 ELSE (SELECT count(*) FROM ferry.copy_progress) END");
        return count == null ? 0 : Long.parseLong(count);
    }

    /** Stops the writer, cuts over, and compares every row and sequence: nothing lost, nothing doubled. */
    ComparisonResult cutoverAndCompare() throws SQLException {
        workload.close();
        String summary = migration.cutover(Duration.ofMinutes(2));
        assertTrue(summary.contains("migration finished"), summary);
        ComparisonResult result = migration.compare();
        System.out.printf("FAULT-RESULT | %s | %d rows compared | %d differences | recovery %.1f s | %d writer transactions%n",
                fault, result.rowsCompared(), result.differences().size(), recoveryMillis / 1000.0, workload.transactions());
        assertTrue(result.identical(), String.join("\n", result.differences()));
        assertTrue(result.rowsCompared() >= BULK_TABLES * (long) BULK_ROWS, "every table was compared: " + result);
        assertEquals(0, migration.slotCount(), "the slot is dropped by the cutover");
        assertEquals("0", migration.sourceServer.queryValue(migration.database, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'ferry%'"),
                "the publications are dropped by the cutover");
        migration.assertLogsHideThePassword();
        return result;
    }

    @Override
    public void close() {
        workload.close();
    }
}
