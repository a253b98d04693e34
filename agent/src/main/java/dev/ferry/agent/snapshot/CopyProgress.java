package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.logging.Units;
import dev.ferry.agent.metrics.MigrationMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * How far one copy has come: each table's completion (logged once, and handed to the {@link CopyListener}, as are a
 * hypertable's time ranges copied in a row from its first), and a progress line every few seconds on its own thread
 * {@code ferry-copy-progress}: tables and data done of the total, rate, ETA and the biggest tables in flight. Done and
 * total are measured alike, in the tables' size on disk at planning time (a chunk counts its table's share), so the
 * percentage and the ETA do not depend on COPY's text being bigger or smaller than the heap. The copy workers call
 * {@link #starting} and {@link #done}; anything may call {@link #line}.
 */
final class CopyProgress implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");
    static final Duration EVERY = Duration.ofSeconds(5);
    private static final int TABLES_SHOWN = 3;

    private final Map<QualifiedName, Integer> chunksLeft = new ConcurrentHashMap<>();
    private final Map<QualifiedName, long[]> perTable = new ConcurrentHashMap<>();
    private final Map<QualifiedName, Long> tableStartedNanos = new ConcurrentHashMap<>();
    private final Map<QualifiedName, PhysicalTable> inFlight = new ConcurrentHashMap<>();
    private final AtomicLong rows = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong diskBytesDone = new AtomicLong();
    private final AtomicInteger tablesDone = new AtomicInteger();
    private final int tablesTotal;
    private final long plannedBytes;
    private final CopyListener listener;
    /** Per hypertable cut in time ranges: which of its units are done, and how many from the first are done in a row. */
    private final Map<QualifiedName, BitSet> unitsDone = new ConcurrentHashMap<>();
    private final MigrationMetrics metrics;
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile long startedNanos = System.nanoTime();

    CopyProgress(CopyPlan plan, CopyListener listener, MigrationMetrics metrics) {
        this.listener = listener;
        this.metrics = metrics;
        for (CopyChunk chunk : plan.chunks()) chunksLeft.merge(chunk.table().name(), 1, Integer::sum);
        List<PhysicalTable> tables = plan.chunks().stream().map(CopyChunk::table).distinct().toList();
        tablesTotal = tables.size();
        plannedBytes = tables.stream().mapToLong(PhysicalTable::dataBytes).sum();
        metrics.copyPlanned(tablesTotal, plannedBytes);
    }

    /** The copy's time counts from when the tables are ready, not from the workers' logins; the progress line starts. */
    void startClock() {
        startedNanos = System.nanoTime();
        Thread reporter = new Thread(this::report, "ferry-copy-progress");
        reporter.setDaemon(true);
        reporter.start();
    }

    /** A table's time counts from when a worker starts its first chunk. */
    void starting(CopyChunk chunk) {
        tableStartedNanos.putIfAbsent(chunk.table().name(), System.nanoTime());
        inFlight.put(chunk.table().name(), chunk.table());
    }

    void done(CopyChunk chunk, ChunkCopier.Result result) {
        rows.addAndGet(result.rows());
        bytes.addAndGet(result.bytes());
        long share = chunk.table().dataBytes() / chunk.count();
        diskBytesDone.addAndGet(share);
        metrics.copiedShare(share);
        long[] totals = perTable.computeIfAbsent(chunk.table().name(), k -> new long[3]);
        synchronized (totals) {
            totals[0] += result.rows();
            totals[1] += result.bytes();
            totals[2] += result.nanInfNulled();
        }
        int left = chunksLeft.merge(chunk.table().name(), -1, Integer::sum);
        if (left == 0) {
            inFlight.remove(chunk.table().name());
            tablesDone.incrementAndGet();
            metrics.copiedTable();
            double seconds = (System.nanoTime() - tableStartedNanos.get(chunk.table().name())) / 1e9;
            log.info("copied {}: {} rows, {} in {} s", chunk.table().name(), String.format("%,d", totals[0]),
                    Units.bytes(totals[1]), String.format("%.1f", seconds));
            if (totals[2] > 0) {
                log.warn("{}: wrote NULL for {} NaN/Infinity numeric values (--numeric-nan-inf null)", chunk.table().name(), totals[2]);
            }
            listener.tableCopied(chunk.table().name());
        } else {
            reportCopiedBefore(chunk);
        }
    }

    /** Tells the listener when the units of a hypertable done in a row from its first grow. */
    private void reportCopiedBefore(CopyChunk chunk) {
        if (!chunk.table().hypertable() || chunk.count() < 2 || chunk.table().timeRanges().isEmpty()) return;
        BitSet done = unitsDone.computeIfAbsent(chunk.table().name(), k -> new BitSet());
        int before, after;
        synchronized (done) {
            before = done.nextClearBit(0);
            done.set(chunk.index());
            after = done.nextClearBit(0);
        }
        if (after > before && after < chunk.count()) {
            chunk.table().timeRanges().get().lower(after).ifPresent(boundary -> listener.copiedBefore(chunk.table().name(), after, boundary));
        }
    }

    long rows() { return rows.get(); }

    long bytes() { return bytes.get(); }

    double elapsedSeconds() {
        return (System.nanoTime() - startedNanos) / 1e9;
    }

    /**
     * NOTE: documented in docs/operations.md. For example {@code copy: 3 of 12 tables, 1.20 GB of 3.40 GB (35%),
     * 48.2 MB/s, ETA 47 s; in flight: "public"."orders" (1.90 GB, 21 s)}.
     */
    String line() {
        double seconds = Math.max(elapsedSeconds(), 1e-3);
        long done = diskBytesDone.get();
        double rate = done / seconds;
        String eta = done == 0 ? "ETA unknown" : "ETA " + Units.duration((plannedBytes - done) / Math.max(rate, 1));
        long now = System.nanoTime();
        String flying = inFlight.values().stream()
                .sorted(Comparator.comparingLong(PhysicalTable::dataBytes).reversed())
                .limit(TABLES_SHOWN)
                .map(t -> t.name() + " (" + Units.bytes(t.dataBytes()) + ", " + Units.duration((now - tableStartedNanos.getOrDefault(t.name(), now)) / 1e9) + ")")
                .collect(Collectors.joining(", "));
        return String.format("copy: %d of %d tables, %s of %s (%d%%), %s/s, %s%s", tablesDone.get(), tablesTotal, Units.bytes(done),
                Units.bytes(plannedBytes), plannedBytes == 0 ? 100 : Math.round(100.0 * done / plannedBytes), Units.bytes((long) rate), eta,
                flying.isEmpty() ? "" : "; in flight: " + flying);
    }

    private void report() {
        try {
            do {
                log.info(LogSetup.PROGRESS, line());
            } while (!finished.await(EVERY.toMillis(), TimeUnit.MILLISECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the progress line; the copy's own last line says how it ended. */
    @Override
    public void close() {
        finished.countDown();
    }
}
