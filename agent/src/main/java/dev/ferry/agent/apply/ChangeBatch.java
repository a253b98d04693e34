package dev.ferry.agent.apply;

import dev.ferry.agent.db.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Row changes of the open target transaction, queued per relation and executed as JDBC batches (one round trip for
 * many rows). Order is kept within each relation, which is all that matters: with session_replication_role = replica
 * no trigger or foreign key links two tables, and unique constraints are per table. Owned by the apply thread; a full
 * batch may be handed to a writer thread so the next changes are decoded while the target executes it, but only one
 * thread uses the connection at a time and everything is written before a commit.
 */
final class ChangeBatch {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    /** From this many inserted rows of one statement on, they go by COPY: a few more round trips, far less parsing. */
    static final int COPY_MIN_ROWS = 200;

    private final Connection target;
    private Map<RowStatements, Queue> byRelation = new LinkedHashMap<>();
    /** The other set of queues: being written by the writer thread, or empty and next to be filled. */
    private Map<RowStatements, Queue> handedOver = new LinkedHashMap<>();
    private final ExecutorService writer = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "ferry-apply-writer");
        thread.setDaemon(true);
        return thread;
    });
    /** The batch the writer thread is executing, if any. */
    private Future<Void> writing;
    private final Map<String, PreparedStatement> prepared = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
            if (size() <= 512) return false;
            closeQuietly(eldest.getValue());
            return true;
        }
    };
    private final Set<QualifiedName> driftReported = new HashSet<>();
    private final Set<QualifiedName> keyFoundReported = new HashSet<>();
    private int rows;
    private long bytes;
    private long coalesced;
    private volatile long copied;

    ChangeBatch(Connection target) {
        this.target = target;
    }

    /**
     * Queues a change. On a coalescible relation an upsert replaces a still-queued upsert of the same key and shape:
     * the later row state wins, as it would after both ran, and no other unique constraint can notice the difference.
     */
    void add(PendingRow row) {
        Queue queue = byRelation.computeIfAbsent(row.relation(), k -> new Queue());
        if (row.key() != null && row.relation().relation().coalescible()) {
            Integer previous = queue.lastByKey.get(row.key());
            if (previous != null && queue.rows.get(previous).sql().equals(row.sql()) && !row.mustFindRow()) {
                bytes += row.bytes() - queue.rows.get(previous).bytes();
                queue.rows.set(previous, row);
                coalesced++;
                return;
            }
        }
        if (row.key() != null) queue.lastByKey.put(row.key(), queue.rows.size());
        queue.rows.add(row);
        rows++;
        bytes += row.bytes();
    }

    /** One relation's queued changes in order, and where each key's latest change sits; kept (and its capacity) between flushes. */
    private static final class Queue {
        final List<PendingRow> rows = new ArrayList<>();
        final Map<String, Integer> lastByKey = new HashMap<>();

        void clear() {
            rows.clear();
            lastByKey.clear();
        }
    }

    /** Upserts absorbed by a later upsert of the same key, in total. */
    long coalesced() {
        return coalesced;
    }

    /** Rows written by COPY rather than by statements, in total. */
    long copied() {
        return copied;
    }

    int rows() {
        return rows;
    }

    long bytes() {
        return bytes;
    }

    /**
     * Executes everything queued, in per-relation order, inside the open target transaction, after any batch handed
     * to the writer thread. Consecutive rows with the same statement go in one JDBC batch, which the driver sends as
     * multi-row statements, or by COPY when they are many inserted rows; a batch is cut where a key repeats, because
     * one multi-row upsert may not touch the same row twice.
     */
    void flush() throws SQLException {
        awaitWriter();
        write(byRelation);
        rows = 0;
        bytes = 0;
    }

    /**
     * Hands everything queued to the writer thread and returns once the batch handed over before it is written, so
     * ferry decodes the next changes while the target executes these. A failure surfaces at the next call here, at
     * {@link #flush} or at {@link #awaitWriter}.
     */
    void flushInBackground() throws SQLException {
        awaitWriter();
        Map<RowStatements, Queue> batch = byRelation;
        byRelation = handedOver;
        handedOver = batch;
        rows = 0;
        bytes = 0;
        writing = writer.submit(() -> {
            write(batch);
            return null;
        });
    }

    /** Waits until the writer thread is done with the connection; rethrows what made its batch fail. */
    void awaitWriter() throws SQLException {
        if (writing == null) return;
        Future<Void> pending = writing;
        writing = null;
        try {
            pending.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SQLException failure) throw failure;
            if (e.getCause() instanceof RuntimeException failure) throw failure;
            throw new IllegalStateException("the apply writer thread failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            pending.cancel(true);
            throw new SQLException("interrupted while the target executed queued changes", "57014", e);
        }
    }

    private void write(Map<RowStatements, Queue> queues) throws SQLException {
        try {
            for (Map.Entry<RowStatements, Queue> relation : queues.entrySet()) {
                try {
                    write(relation.getValue().rows);
                } catch (SQLException e) {
                    throw new RelationFailure(relation.getKey().relation().name(), e);
                }
            }
        } finally {
            queues.values().forEach(Queue::clear);
        }
    }

    private void write(List<PendingRow> pending) throws SQLException {
        int start = 0;
        while (start < pending.size()) {
            int end = start;
            String sql = pending.get(start).sql();
            Set<String> keys = new HashSet<>();
            while (end < pending.size() && pending.get(end).sql().equals(sql)
                    && (pending.get(end).key() == null || keys.add(pending.get(end).key()))) {
                end++;
            }
            execute(pending.subList(start, end));
            start = end;
        }
    }

    /** Changes to one table failed on the target. */
    static final class RelationFailure extends SQLException {
        private final QualifiedName relation;

        RelationFailure(QualifiedName relation, SQLException cause) {
            super(cause.getMessage(), cause.getSQLState(), cause);
            this.relation = relation;
        }

        QualifiedName relation() {
            return relation;
        }

        /** The server's own error, also from inside a JDBC batch. */
        SQLException serverError() {
            SQLException cause = (SQLException) getCause();
            return cause instanceof BatchUpdateException && cause.getNextException() != null ? cause.getNextException() : cause;
        }
    }

    private void execute(List<PendingRow> group) throws SQLException {
        PendingRow first = group.get(0);
        if (group.size() >= COPY_MIN_ROWS && group.stream().allMatch(PendingRow::inserted)) {
            CopyRoute route = first.relation().copyRoute(first.sql());
            if (route != null && route.write(target, group)) {
                copied += group.size();
                return;
            }
            if (route != null && keyFoundReported.add(first.relation().relation().name())) {
                log.info("{}: {} inserted rows were upserted instead of copied: one of their keys was already on the target, so the source's"
                                + " rows replace what is there. Rows were written on the target by hand, or it was not empty. Reported once per table.",
                        first.relation().relation().name(), group.size());
            }
        }
        PreparedStatement statement = prepared.get(first.sql());
        if (statement == null) {
            statement = target.prepareStatement(first.sql());
            prepared.put(first.sql(), statement);
        }
        for (PendingRow row : group) {
            String[] parameters = row.parameters();
            for (int i = 0; i < parameters.length; i++) {
                if (parameters[i] == null) statement.setNull(i + 1, Types.OTHER);
                else statement.setString(i + 1, parameters[i]);
            }
            if (group.size() > 1) statement.addBatch();
        }
        if (group.size() == 1) {
            int changed = statement.executeUpdate();
            checkFound(first, changed);
            return;
        }
        int[] counts = statement.executeBatch();
        for (int i = 0; i < counts.length; i++) checkFound(group.get(i), counts[i]);
    }

    private void checkFound(PendingRow row, int changed) {
        if (row.mustFindRow() && changed == 0 && driftReported.add(row.relation().relation().name())) {
            log.warn("{}: an UPDATE or DELETE from the source found no matching row on the target. Right after the copy this is expected"
                    + " when the source TRUNCATEd the table while the copy began (TRUNCATE is not MVCC-safe); it heals when the stream applies"
                    + " that TRUNCATE. Otherwise rows were changed on the target by hand: compare the table at cutover. Reported once per table.",
                    row.relation().relation().name());
        }
    }

    /** Drops what is queued; the target transaction is being rolled back. */
    void clear() {
        awaitWriterQuietly();
        byRelation.values().forEach(Queue::clear);
        rows = 0;
        bytes = 0;
    }

    void close() {
        awaitWriterQuietly();
        writer.shutdownNow();
        prepared.values().forEach(ChangeBatch::closeQuietly);
        prepared.clear();
    }

    private void awaitWriterQuietly() {
        try {
            awaitWriter();
        } catch (SQLException | RuntimeException e) {
            log.debug("a batch the writer thread was executing failed while its transaction is dropped", e);
        }
    }

    private static void closeQuietly(PreparedStatement statement) {
        try {
            statement.close();
        } catch (SQLException ignored) {
            // closing a cached statement of a connection that is going away: nothing to do
        }
    }
}
