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
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Phaser;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Builds a table's indexes, primary key and unique constraints on the target as soon as the table is copied, while
 * other tables are still copying, the way pgcopydb does: index builds overlap the copy instead of all waiting for
 * the slowest table, and every index is its own task, so a big table's indexes are built side by side. A key is
 * built as a unique index (which does not block the table's other builds) and then attached with
 * {@code ADD CONSTRAINT ... USING INDEX}, which takes a moment. Everything else in post-data (exclusion constraints,
 * foreign keys, triggers, partitioned tables' indexes and their attachments) waits for
 * {@link SchemaCopy#copyPostData()}, which also builds whatever failed here (so a failure here is only logged) and
 * sets what pg_dump writes into an index's entry besides the index: replica identity, CLUSTER ON, statistics targets
 * ({@link IndexSettings}).
 *
 * <p>{@code --jobs} threads ({@code ferry-indexes-N}) during the copy, each with its own target connection (the
 * source's index definitions are read once, by the first table's task). Once the copy is done its workers' share of
 * the machine goes to the builds still queued, so {@link #finish()} grows them to twice {@code --jobs}: a big table
 * copied early otherwise holds every build thread while the indexes of all the smaller tables wait behind it.
 */
public final class EarlyIndexBuilds {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    private final MigrationConfig config;
    private final ThreadPoolExecutor threads;
    private final Phaser pending = new Phaser(1);
    private final ThreadLocal<Connection> sessions = new ThreadLocal<>();
    private final Queue<Connection> opened = new ConcurrentLinkedQueue<>();
    /** Every source table's indexes, read once by the first task that needs them. */
    private Map<QualifiedName, List<IndexDefinition>> definitions;
    /** The target's memory for sorts, read by the first session opened. */
    private IndexBuildMemory memory;
    private final AtomicInteger built = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final String when;
    private final boolean keysOnly;

    EarlyIndexBuilds(MigrationConfig config) {
        this(config, "during the copy", false);
    }

    /**
     * @param when when these builds run, for the log: "during the copy", "before the copy"
     * @param keysOnly whether to build only primary keys, unique constraints and unique indexes
     */
    EarlyIndexBuilds(MigrationConfig config, String when, boolean keysOnly) {
        this.config = config;
        this.when = when;
        this.keysOnly = keysOnly;
        AtomicInteger number = new AtomicInteger();
        this.threads = new ThreadPoolExecutor(config.jobs(), config.jobs(), 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), task -> {
            Thread thread = new Thread(task, "ferry-indexes-" + number.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Builds {@code table}'s indexes and keys: called by a copy worker when every row of it is committed on the target,
     * or, for its keys only, by pre-data for a hypertable with compressed chunks before its copy
     * ({@link SchemaCopy#copyPreData}).
     */
    public void tableCopied(QualifiedName table) {
        submit(() -> {
            for (IndexDefinition index : indexesOf(table)) {
                if (!keysOnly || unique(index)) submit(() -> build(index), "building " + index);
            }
        }, "reading the indexes of " + table);
    }

    /**
     * Called when the copy is over (its connections closed): runs the builds still queued on twice as many threads,
     * waits until every build asked for is done, then closes the connections.
     */
    public void finish() {
        threads.setMaximumPoolSize(maximumBuilds());
        threads.setCorePoolSize(maximumBuilds()); // starts threads for the queued builds
        pending.arriveAndAwaitAdvance();
        threads.shutdown();
        for (Connection target : opened) Resources.closeQuietly(target, "an index build connection");
        if (built.get() + failed.get() > 0) {
            log.info("indexes: built {} indexes and keys {}{}", built.get(), when,
                    failed.get() == 0 ? "" : "; " + failed.get() + " failed and are left to post-data");
        }
    }

    /** Build sessions at the most: {@code --jobs} during the copy, twice that once the copy workers are gone. */
    private int maximumBuilds() {
        return 2 * config.jobs();
    }

    private interface Task {
        void run() throws SQLException;
    }

    private void submit(Task task, String what) {
        pending.register();
        threads.execute(() -> {
            MDC.put("stage", "schema");
            try {
                task.run();
            } catch (SQLException | RuntimeException e) {
                failed.incrementAndGet();
                log.warn("indexes: {} failed {} ({}); post-data builds it after the copy and stops with the reason if it fails again",
                        what, when, e.getMessage());
            } finally {
                MDC.remove("stage");
                pending.arriveAndDeregister();
            }
        });
    }

    private static boolean unique(IndexDefinition index) {
        return index.addConstraint() != null || index.createIndex().startsWith("CREATE UNIQUE INDEX");
    }

    private void build(IndexDefinition index) throws SQLException {
        Connection target = session();
        String schema = index.table().schema();
        boolean indexThere = new CatalogObject(TocEntry.PG_CLASS, "index", schema, null, index.name(), null).existsOn(target);
        boolean constraintThere = index.addConstraint() == null
                || new CatalogObject(TocEntry.PG_CONSTRAINT, "constraint", schema, index.table().name(), index.name(), null).existsOn(target);
        if (indexThere && constraintThere) {
            log.debug("indexes: {} already exists on the target", index);
            return;
        }
        long start = System.nanoTime();
        try (Statement s = target.createStatement()) {
            // Each statement commits on its own: a session waiting for the table's exclusive lock must hold no other
            // lock on it, or two keys of one table would deadlock. An index left without its constraint by a crash
            // in between is attached on the next run.
            if (index.addConstraint() != null && Hypertables.isHypertable(target, index.table())) {
                // TimescaleDB refuses ONLY and USING INDEX on a hypertable: the constraint builds its index on every chunk.
                if (!constraintThere) s.execute(index.addHypertableConstraint());
            } else {
                if (!indexThere) createIndex(index, s);
                if (!constraintThere) {
                    try {
                        s.execute(index.addConstraint());
                    } catch (SQLException e) {
                        // Post-data then creates the constraint its own way, which needs the index's name free.
                        s.execute("DROP INDEX IF EXISTS " + new QualifiedName(index.table().schema(), index.name()));
                        throw e;
                    }
                }
            }
        }
        built.incrementAndGet();
        double seconds = (System.nanoTime() - start) / 1e9;
        // The big ones are what a DBA watches for; thousands of small tables would drown them.
        if (seconds >= 1) log.info("indexes: built {} in {} s", index, String.format("%.1f", seconds));
        else log.debug("indexes: built {} in {} s", index, String.format("%.2f", seconds));
    }

    private void createIndex(IndexDefinition index, Statement s) throws SQLException {
        IndexBuildMemory memory = memory();
        long grant = memory.take(index.sourceBytes());
        try {
            s.execute("SET maintenance_work_mem = '" + (grant >> 10) + "kB'");
            s.execute(index.createIndex());
        } finally {
            memory.release(grant);
        }
    }

    private synchronized IndexBuildMemory memory() throws SQLException {
        if (memory == null) memory = IndexBuildMemory.of(session());
        return memory;
    }

    private synchronized List<IndexDefinition> indexesOf(QualifiedName table) throws SQLException {
        if (definitions == null) {
            try (Connection source = new Database(config.source(), "source").open(); Statement s = source.createStatement()) {
                // Every name pg_get_indexdef prints is then schema-qualified, and the target resolves it the same way.
                s.execute("SET search_path = ''");
                definitions = IndexDefinition.all(source);
            }
        }
        return definitions.getOrDefault(table, List.of());
    }

    /** This thread's target connection, opened on first use. */
    private Connection session() throws SQLException {
        Connection target = sessions.get();
        if (target == null) {
            target = new Database(config.target(), "target").open();
            opened.add(target);
            sessions.set(target);
            try (Statement s = target.createStatement()) {
                s.execute("SET search_path = ''");
                s.execute("SET statement_timeout = 0");
                s.execute("SET lock_timeout = 0");
                // --jobs already decides how much of the target the builds use, and copy workers fill the rest:
                // parallel workers on top split the build's memory (4.4 million rows sorted on disk instead of in
                // memory) and cost about a quarter more CPU, for no time gained on a target the copy keeps busy.
                s.execute("SET max_parallel_maintenance_workers = 0");
                // A build's commit need not wait for its WAL to reach disk: the commit of the next phase flushes
                // everything before it, and an index lost to a crash before then is built again by post-data.
                s.execute("SET synchronous_commit = off");
            }
        }
        return target;
    }

}
