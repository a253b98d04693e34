package dev.ferry.agent.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The numbers a running migration exposes on /metrics (Prometheus) and /status. Thread-safe: the copy workers and
 * the stream thread update it, the HTTP server's thread reads it.
 */
public final class MigrationMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter copiedRows;
    private final Counter copiedBytes;
    private final Counter appliedTransactions;
    private final Counter appliedChanges;
    private final Counter streamErrors;
    private final AtomicLong appliedLsn = new AtomicLong();
    private final AtomicLong sourceLsn = new AtomicLong();
    private final AtomicLong copyTablesTotal = new AtomicLong();
    private final AtomicLong copyTablesDone = new AtomicLong();
    private final AtomicLong copyPlannedBytes = new AtomicLong();
    private final AtomicLong copyDoneBytes = new AtomicLong();
    private final AtomicLong lastCommitMillis = new AtomicLong();
    private final AtomicLong retainedWalBytes = new AtomicLong();
    private final AtomicReference<String> phase = new AtomicReference<>("preflight");

    public MigrationMetrics() {
        copiedRows = Counter.builder("ferry.copy.rows").description("rows copied in the snapshot phase").register(registry);
        copiedBytes = Counter.builder("ferry.copy.bytes").description("bytes of COPY data moved").baseUnit("bytes").register(registry);
        appliedTransactions = Counter.builder("ferry.stream.transactions").description("source transactions applied to the target").register(registry);
        appliedChanges = Counter.builder("ferry.stream.changes").description("row changes applied to the target").register(registry);
        Gauge.builder("ferry.stream.applied.lsn", appliedLsn, AtomicLong::get).description("LSN applied on the target, as a number").register(registry);
        Gauge.builder("ferry.stream.lag", this, MigrationMetrics::lagBytes).description("source WAL position minus applied LSN").baseUnit("bytes").register(registry);
        Gauge.builder("ferry.stream.lag.seconds", this, MigrationMetrics::lagSeconds)
                .description("while behind the source: seconds since the last applied source transaction committed").baseUnit("seconds").register(registry);
        Gauge.builder("ferry.source.retained.wal", retainedWalBytes, AtomicLong::get)
                .description("WAL the source keeps for ferry's slot (current position minus the slot's restart_lsn)").baseUnit("bytes").register(registry);
        streamErrors = Counter.builder("ferry.stream.errors").description("stream or apply failures that ferry retried after reconnecting").register(registry);
        Gauge.builder("ferry.copy.tables", copyTablesTotal, AtomicLong::get).description("tables the copy has to copy").register(registry);
        Gauge.builder("ferry.copy.tables.done", copyTablesDone, AtomicLong::get).description("tables whose every row is copied").register(registry);
        Gauge.builder("ferry.copy.planned", copyPlannedBytes, AtomicLong::get).description("size on disk of the tables to copy")
                .baseUnit("bytes").register(registry);
        Gauge.builder("ferry.copy.done", copyDoneBytes, AtomicLong::get).description("share of ferry.copy.planned copied (size on disk)")
                .baseUnit("bytes").register(registry);
    }

    /** The copy starts: how many tables and how much data on disk it has to move. */
    public void copyPlanned(long tables, long bytes) {
        copyTablesTotal.set(tables);
        copyPlannedBytes.set(bytes);
    }

    /** A chunk is copied: its share, in size on disk, of the planned total. */
    public void copiedShare(long diskBytes) {
        copyDoneBytes.addAndGet(diskBytes);
    }

    public void copiedTable() {
        copyTablesDone.incrementAndGet();
    }

    /** A source transaction committed at {@code commitTime} is applied on the target. */
    public void appliedCommit(Instant commitTime) {
        lastCommitMillis.accumulateAndGet(commitTime.toEpochMilli(), Math::max);
    }

    public void retainedWal(long bytes) {
        retainedWalBytes.set(bytes);
    }

    public void streamError() {
        streamErrors.increment();
    }

    public void copied(long rows, long bytes) {
        copiedRows.increment(rows);
        copiedBytes.increment(bytes);
    }

    public void applied(long transactions, long changes, long lsn) {
        appliedTransactions.increment(transactions);
        appliedChanges.increment(changes);
        appliedLsn.accumulateAndGet(lsn, Math::max);
    }

    public void sourcePosition(long lsn) {
        sourceLsn.accumulateAndGet(lsn, Math::max);
    }

    public void phase(String name) {
        phase.set(name);
    }

    public double lagBytes() {
        long source = sourceLsn.get();
        return source == 0 ? 0 : Math.max(0, source - appliedLsn.get());
    }

    /**
     * While behind the source (lag in bytes), the time since the last applied transaction committed on the source, as
     * Debezium measures "behind source"; 0 when caught up.
     */
    public double lagSeconds() {
        long committed = lastCommitMillis.get();
        if (lagBytes() == 0 || committed == 0) return 0;
        return Math.max(0, (System.currentTimeMillis() - committed) / 1000.0);
    }

    /** NOTE: /status JSON; monitoring scripts read these field names. */
    public String statusJson() {
        return String.format(Locale.ROOT, "{\"phase\":\"%s\",\"copy_tables\":%d,\"copy_tables_done\":%d,\"copy_planned_bytes\":%d,\"copy_done_bytes\":%d,\"copied_rows\":%d,"
                        + "\"copied_bytes\":%d,\"applied_transactions\":%d,\"applied_changes\":%d,\"lag_bytes\":%d,\"lag_seconds\":%.1f,"
                        + "\"retained_wal_bytes\":%d,\"stream_errors\":%d}",
                phase.get(), copyTablesTotal.get(), copyTablesDone.get(), copyPlannedBytes.get(), copyDoneBytes.get(), (long) copiedRows.count(),
                (long) copiedBytes.count(), (long) appliedTransactions.count(), (long) appliedChanges.count(), (long) lagBytes(), lagSeconds(),
                retainedWalBytes.get(), (long) streamErrors.count());
    }

    public String scrape() {
        return registry.scrape();
    }
}
