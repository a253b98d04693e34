package dev.ferry.agent.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

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
    private final AtomicLong appliedLsn = new AtomicLong();
    private final AtomicLong sourceLsn = new AtomicLong();
    private final AtomicReference<String> phase = new AtomicReference<>("preflight");

    public MigrationMetrics() {
        copiedRows = Counter.builder("ferry.copy.rows").description("rows copied in the snapshot phase").register(registry);
        copiedBytes = Counter.builder("ferry.copy.bytes").description("bytes of COPY data moved").baseUnit("bytes").register(registry);
        appliedTransactions = Counter.builder("ferry.stream.transactions").description("source transactions applied to the target").register(registry);
        appliedChanges = Counter.builder("ferry.stream.changes").description("row changes applied to the target").register(registry);
        Gauge.builder("ferry.stream.applied.lsn", appliedLsn, AtomicLong::get).description("LSN applied on the target, as a number").register(registry);
        Gauge.builder("ferry.stream.lag", this, MigrationMetrics::lagBytes).description("source WAL position minus applied LSN").baseUnit("bytes").register(registry);
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

    /** NOTE: /status JSON; monitoring scripts read these field names. */
    public String statusJson() {
        return String.format("{\"phase\":\"%s\",\"copied_rows\":%d,\"copied_bytes\":%d,\"applied_transactions\":%d,\"applied_changes\":%d,\"lag_bytes\":%d}",
                phase.get(), (long) copiedRows.count(), (long) copiedBytes.count(), (long) appliedTransactions.count(),
                (long) appliedChanges.count(), (long) lagBytes());
    }

    public String scrape() {
        return registry.scrape();
    }
}
