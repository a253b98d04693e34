package dev.ferry.agent.schema;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.Resources;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Creates and refreshes each continuous aggregate on the target as soon as the hypertable it aggregates is copied,
 * while other tables are still copying, instead of after post-data: its first refresh aggregates every copied row
 * (5 s for 6 million rows in the bench), and needs nothing else the copy still does. Aggregates whose hypertable is
 * not reported copied (an aggregate on another aggregate, a copy resumed after a crash) are left to
 * {@link ContinuousAggregates#create} after post-data, which skips those made here.
 *
 * <p>One thread ({@code ferry-aggregates}) with one target connection does everything, in the source's creation
 * order, so the state below is confined to it; copy workers call {@link #tableCopied}, the copy's owner
 * {@link #finish} or {@link #close}.
 */
public final class EarlyAggregateRefreshes implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");
    private final MigrationConfig config;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(task -> {
        Thread t = new Thread(task, "ferry-aggregates");
        t.setDaemon(true);
        return t;
    });
    /** Aggregates not made yet, in creation order; read by the first task. Confined to the thread. */
    private List<ContinuousAggregates.Aggregate> waiting;
    private final Set<QualifiedName> copied = new HashSet<>();
    /** Aggregates made before their hypertable was copied whole -> how many steps refreshed them. Confined to the thread. */
    private final Map<QualifiedName, Integer> madeEarly = new HashMap<>();
    /** Per hypertable, the most time ranges reported copied in a row, so a queued step behind a later one is skipped. */
    private final Map<QualifiedName, Integer> latestUnits = new ConcurrentHashMap<>();
    private volatile Connection target;
    private volatile Exception failure;

    EarlyAggregateRefreshes(MigrationConfig config) {
        this.config = config;
        run(() -> {
            try (Connection source = new Database(config.source(), "source").open()) {
                waiting = Hypertables.hasTimescale(source) ? new ArrayList<>(ContinuousAggregates.read(source)) : new ArrayList<>();
            }
        });
    }

    /** Called by a copy worker when every row of {@code table} is committed on the target. */
    public void tableCopied(QualifiedName table) {
        run(() -> {
            copied.add(table);
            while (!waiting.isEmpty() && copied.contains(waiting.get(0).hypertable())) {
                ContinuousAggregates.Aggregate aggregate = waiting.remove(0);
                if (!madeEarly.containsKey(aggregate.name())) {
                    // Made by an earlier start (this one resumed the copy): refreshed again, which materializes only
                    // what that start had not.
                    if (!ContinuousAggregates.create(target(), aggregate)) ContinuousAggregates.refresh(target(), aggregate, null);
                    continue;
                }
                long start = System.nanoTime();
                ContinuousAggregates.refresh(target(), aggregate, null);
                log.info("continuous aggregates: created {} on the target and refreshed it in {} steps while {} was copied, the last {} s",
                        aggregate.name(), madeEarly.get(aggregate.name()) + 1, aggregate.hypertable(), String.format("%.1f", (System.nanoTime() - start) / 1e9));
            }
        });
    }

    /**
     * Called by a copy worker when every row of hypertable {@code table} before {@code boundary} is committed on the
     * target (its first {@code units} time ranges): each aggregate of it that is next in line is made and refreshed
     * up to there, so that its refresh (a full core for 2.5 s on the bench's 6 million rows, after the copy of its
     * hypertable) runs in steps beside that copy instead. A boundary with no type cast (an integer time column) is
     * left to the refresh of the whole hypertable; so is a step that finds a later one queued behind it.
     */
    public void copiedBefore(QualifiedName table, int units, String boundary) {
        if (!boundary.startsWith("'")) return;
        latestUnits.merge(table, units, Math::max);
        run(() -> {
            if (latestUnits.get(table) > units) return;
            for (ContinuousAggregates.Aggregate aggregate : waiting) {
                // In creation order: one not made yet may be what a later one aggregates.
                if (!aggregate.hypertable().equals(table)) break;
                if (!madeEarly.containsKey(aggregate.name()) && !ContinuousAggregates.createEmpty(target(), aggregate)) break;
                ContinuousAggregates.refresh(target(), aggregate, boundary);
                madeEarly.merge(aggregate.name(), 1, Integer::sum);
                log.debug("continuous aggregates: refreshed {} up to {} ({} of the time ranges of {} copied)", aggregate.name(), boundary, units, table);
            }
        });
    }

    /** Waits until every aggregate whose hypertable was copied is made and refreshed; throws the first failure. */
    public void finish() throws SQLException {
        thread.shutdown();
        try {
            while (!thread.awaitTermination(1, TimeUnit.SECONDS)) {
                // a first refresh of a big aggregate takes minutes; nothing to do but wait
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new SQLException("interrupted while waiting for the continuous aggregates' refresh on the target", e);
        }
        closeTarget();
        if (failure instanceof SQLException sql) throw sql;
        if (failure instanceof RuntimeException runtime) throw runtime; // a FerryException says what to do itself
        if (failure != null) throw new IllegalStateException(failure);
    }

    /**
     * The copy failed, or ferry stops: stops starting refreshes and closes the connection, without cancelling the one
     * running. The server finishes it on its own: TimescaleDB 2.25 records a refresh's range in
     * {@code continuous_aggs_materialization_ranges} in a transaction of its own first, and a refresh cancelled after
     * that leaves the range behind, which makes every later refresh of the aggregate fail ("overlaps with existing
     * range ... a previously failed refresh left an overlapping range") until someone deletes that catalog row by hand.
     */
    @Override
    public void close() {
        thread.shutdownNow();
        closeTarget();
    }

    private interface Task {
        void run() throws SQLException;
    }

    /** Runs {@code task} on the thread unless an earlier one failed (the rest then waits for post-data). */
    private void run(Task task) {
        thread.execute(() -> {
            if (failure != null) return;
            MDC.put("stage", "schema");
            try {
                task.run();
            } catch (SQLException | RuntimeException e) {
                failure = e;
            } finally {
                MDC.remove("stage");
            }
        });
    }

    private Connection target() throws SQLException {
        if (target == null) target = new Database(config.target(), "target").open();
        return target;
    }

    private void closeTarget() {
        Connection open = target;
        if (open != null) Resources.closeQuietly(open, "the continuous aggregates' connection");
    }
}
