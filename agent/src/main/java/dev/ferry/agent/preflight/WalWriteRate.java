package dev.ferry.agent.preflight;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * The source's WAL write rate, from two readings of its WAL position. The first is taken when preflight connects,
 * so the checks in between count towards the sampling window instead of a sleep on the way to the copy.
 */
final class WalWriteRate {
    /** A standby has no insert position; its replay position moves at the primary's write rate. */
    private static final String POSITION = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END - '0/0'::pg_lsn)::bigint";
    private static final long MINIMUM_WINDOW_NANOS = 100_000_000L;

    private final long startBytes;
    private final long startNanos;

    WalWriteRate(Connection source) throws SQLException {
        this.startBytes = PreflightContext.number(source, POSITION);
        this.startNanos = System.nanoTime();
    }

    /** Bytes per second since the first reading, waiting only for what is left of a tenth of a second. */
    long bytesPerSecond(Connection source) throws SQLException {
        long remaining = MINIMUM_WINDOW_NANOS - (System.nanoTime() - startNanos);
        if (remaining > 0) {
            try {
                Thread.sleep(remaining / 1_000_000, (int) (remaining % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        long written = Math.max(0, PreflightContext.number(source, POSITION) - startBytes);
        return (long) (written / Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9));
    }
}
