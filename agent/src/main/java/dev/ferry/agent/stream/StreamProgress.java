package dev.ferry.agent.stream;

import dev.ferry.agent.apply.Applier;
import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.logging.Units;
import dev.ferry.agent.metrics.MigrationMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Locale;

/**
 * The stream's progress line every 5 s, and the source-side gauges behind it (WAL position, WAL retained for the
 * slot): the only query of the source while streaming, on a connection of its own. Owned by the stream thread.
 */
final class StreamProgress {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    private static final long EVERY_NANOS = Duration.ofSeconds(5).toNanos();

    private final Connection source;
    private final String slotName;
    private final MigrationMetrics metrics;
    private long next = System.nanoTime() + EVERY_NANOS;
    /** Changes applied and the time at the last line, for its changes/s. */
    private long changesAtLast;
    private long lastNanos = System.nanoTime();

    StreamProgress(Connection source, String slotName, MigrationMetrics metrics) {
        this.source = source;
        this.slotName = slotName;
        this.metrics = metrics;
    }

    /** Logs the line if it is due at {@code now} (System.nanoTime()). */
    void logIfDue(long now, Applier applier, SpilledTransactions spilled) {
        if (now < next) return;
        next = now + EVERY_NANOS;
        log(now, applier, spilled);
    }

    /**
     * NOTE: documented in docs/operations.md. For example {@code streaming: applied 0/3A2F1B0 (source at 0/3A30000,
     * lag 3.6 kB, 0.2 s); 1,250 changes/s; source retains 16.0 MB of WAL for the slot}.
     */
    private void log(long now, Applier applier, SpilledTransactions spilled) {
        try {
            WalPosition.SlotRetention position = WalPosition.slot(source, slotName);
            long retained = position.retainedBytes().orElse(0L);
            metrics.sourcePosition(position.current().value());
            metrics.retainedWal(retained);
            long changes = applier.changesApplied();
            double rate = (changes - changesAtLast) / Math.max((now - lastNanos) / 1e9, 1e-3);
            changesAtLast = changes;
            lastNanos = now;
            log.info(LogSetup.PROGRESS, "streaming: applied {} (source at {}, lag {}, {} s); {} changes/s; source retains {} of WAL for the slot{}",
                    applier.applied(), position.current(), Units.bytes((long) metrics.lagBytes()), String.format(Locale.ROOT, "%.1f", metrics.lagSeconds()),
                    String.format("%,.0f", rate), Units.bytes(retained),
                    spilled.isEmpty() ? "" : "; " + Units.bytes(spilled.bytes()) + " of in-progress transactions spilled");
        } catch (SQLException e) {
            log.debug("could not read the source's WAL position for the progress line", e);
        }
    }
}
