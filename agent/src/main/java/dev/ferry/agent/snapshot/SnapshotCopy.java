package dev.ferry.agent.snapshot;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.TargetSession;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Copies tables inside one exported snapshot with {@code --jobs} workers (threads {@code ferry-copy-N}), each with
 * its own source connection that imported the snapshot and its own target connection. Every worker sees exactly the
 * data as of the slot's consistent point, so the stream can start there with no row lost or doubled.
 */
public final class SnapshotCopy {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    private final MigrationConfig config;
    private final Database source;
    private final DataSource target;
    private final StateStore state;
    private final MigrationMetrics metrics;
    private final boolean freeze;

    public SnapshotCopy(MigrationConfig config, Database source, DataSource target, StateStore state, MigrationMetrics metrics) {
        this(config, source, target, state, metrics, true);
    }

    /**
     * @param freeze whether a table copied whole may be emptied and loaded with FREEZE in one transaction: not during
     *               the stream, when post-data's foreign keys may refer to it and TRUNCATE refuses such a table
     */
    public SnapshotCopy(MigrationConfig config, Database source, DataSource target, StateStore state, MigrationMetrics metrics, boolean freeze) {
        this.config = config;
        this.source = source;
        this.target = target;
        this.state = state;
        this.metrics = metrics;
        this.freeze = freeze;
    }

    /**
     * Starts copying {@code tables} in the snapshot {@code snapshotName}; their rows then reflect every source
     * transaction committed before {@code syncLsn}. The workers log in and import the snapshot at once, then wait for
     * {@link Run#tablesReady()} (the tables exist and are empty on the target) before their first COPY: their logins
     * overlap the pre-data schema instead of following it. {@code listener} hears of each table whose rows are all
     * committed on the target, and of a hypertable's ranges copied so far, from the worker thread that committed them.
     */
    public Run start(List<PhysicalTable> tables, String snapshotName, Lsn syncLsn, int sourceMajor, CopyListener listener) {
        return new Run(tables, snapshotName, syncLsn, sourceMajor, listener);
    }

    /** One copy under way; see {@link #start}. */
    public final class Run {
        private final List<PhysicalTable> tables;
        private final String snapshotName;
        private final CopyPlan plan;
        private final CopyProgress progress;
        private final CountDownLatch ready = new CountDownLatch(1);
        private final AtomicReference<RuntimeException> failure = new AtomicReference<>();
        private final List<Thread> workers = new ArrayList<>();

        private Run(List<PhysicalTable> tables, String snapshotName, Lsn syncLsn, int sourceMajor, CopyListener listener) {
            this.tables = tables;
            this.snapshotName = snapshotName;
            this.plan = CopyPlan.plan(tables, config.jobs(), sourceMajor);
            this.progress = new CopyProgress(plan, listener, metrics);
            recordPlan();
            Queue<CopyChunk> work = new ConcurrentLinkedQueue<>(plan.chunks());
            int workerCount = Math.min(config.jobs(), Math.max(1, plan.chunks().size()));
            for (int i = 0; i < workerCount; i++) {
                Thread worker = new Thread(() -> runWorker(work, syncLsn, sourceMajor), "ferry-copy-" + (i + 1));
                workers.add(worker);
                worker.start();
            }
        }

        /** For `ferry status`: what this copy has to do. A failure only costs status its totals, so it is logged, not thrown. */
        private void recordPlan() {
            Map<QualifiedName, StateStore.PlannedTable> planned = new LinkedHashMap<>();
            for (CopyChunk chunk : plan.chunks()) planned.put(chunk.table().name(), new StateStore.PlannedTable(chunk.count(), chunk.table().dataBytes()));
            try (Connection dst = target.getConnection()) {
                dst.setAutoCommit(true);
                state.recordPlan(dst, planned);
            } catch (SQLException e) {
                log.warn("could not record the copy plan for `ferry status`: {}", e.getMessage());
            }
        }

        /** The tables now exist on the target: the workers start copying. */
        public void tablesReady() {
            long totalBytes = tables.stream().mapToLong(PhysicalTable::dataBytes).sum();
            log.info("copying {} tables ({} chunks, {} MB on disk) with {} workers in snapshot {}",
                    tables.size(), plan.chunks().size(), totalBytes / (1024 * 1024), workers.size(), snapshotName);
            progress.startClock();
            ready.countDown();
        }

        /** Something before the copy failed: the workers close their connections without copying anything. */
        public void abandon() {
            // Only stops the workers; the caller reports what failed.
            failure.compareAndSet(null, new FerryException("the copy was abandoned before it started.", "an earlier step failed.", "see that step's error."));
            ready.countDown();
            joinWorkers();
            progress.close();
        }

        /** Waits until every worker is done; throws the first failure. */
        public void await() {
            joinWorkers();
            progress.close();
            if (failure.get() != null) throw failure.get();
            log.info("copy finished: {} tables, {} rows, {} MB in {} s", tables.size(), progress.rows(),
                    progress.bytes() / (1024 * 1024), String.format("%.1f", progress.elapsedSeconds()));
        }

        private void joinWorkers() {
            for (Thread worker : workers) {
                try {
                    worker.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure.compareAndSet(null, interrupted());
                    workers.forEach(Thread::interrupt);
                }
            }
        }

        private void runWorker(Queue<CopyChunk> work, Lsn syncLsn, int sourceMajor) {
            try (Connection src = source.open(); Connection dst = target.getConnection(); ChunkRewrites rewrites = new ChunkRewrites(source)) {
                TargetSession.configureSourceReader(src);
                try (Statement s = src.createStatement()) {
                    s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
                    s.execute("SET TRANSACTION SNAPSHOT " + QualifiedName.literal(snapshotName));
                }
                dst.setAutoCommit(false);
                TargetSession.configure(dst, "target");
                CopyFormat.preferLz4(dst);
                dst.commit();
                CopyFormat format = CopyFormat.between(sourceMajor, Database.majorVersion(dst), config.schemaMode());
                if (!freeze) format = format.withoutFreeze();
                ChunkCopier copier = new ChunkCopier(src, dst, state, config.numericNanInf(), syncLsn, format, rewrites, config.schemaMap());
                ready.await();
                CopyChunk chunk;
                while (failure.get() == null && (chunk = work.poll()) != null) {
                    MDC.put("table", " " + chunk.table().name());
                    progress.starting(chunk);
                    ChunkCopier.Result result = copier.copy(chunk);
                    progress.done(chunk, result);
                    metrics.copied(result.rows(), result.bytes());
                    MDC.remove("table");
                }
                try (Statement s = src.createStatement()) {
                    s.execute("COMMIT");
                }
            } catch (SQLException e) {
                failure.compareAndSet(null, new FerryException("a copy worker lost its connection: " + e.getMessage(),
                        "the snapshot could not be imported or a server went away (SQLSTATE " + e.getSQLState() + ").",
                        "check both servers are up; run the same `ferry run` again to resume: copied tables are kept.", e));
            } catch (InterruptedException e) {
                failure.compareAndSet(null, interrupted());
            } catch (RuntimeException e) {
                failure.compareAndSet(null, e);
            } catch (Exception e) {
                failure.compareAndSet(null, new FerryException("a copy worker failed: " + e, "an error ferry did not expect stopped the copy; its stack trace is in ferry.log.", "run the same `ferry run` again to resume.", e));
            } finally {
                MDC.remove("table");
            }
        }
    }

    private static FerryException interrupted() {
        return FerryException.interrupted("the copy was interrupted.", "run the same `ferry run` again to resume: copied tables are kept.", null);
    }

}
