package dev.ferry.agent.apply;

import dev.ferry.agent.db.Resources;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The row changes of the open target transaction: queued per relation, and at a flush executed on the target
 * connection, relation by relation. Order is kept within each relation, which is all that matters: with
 * session_replication_role = replica no trigger or foreign key links two tables, and unique constraints are per table.
 * Consecutive rows with the same statement go in one JDBC batch, which the driver sends as multi-row statements, or by
 * COPY when they are many inserted rows; a batch is cut where a key repeats, because one multi-row upsert may not touch
 * the same row twice. Reports, once per table, rows the target held that the source says it should not have. Owned by
 * the apply thread.
 */
final class TargetWriter {
    private static final Logger log = LoggerFactory.getLogger("ferry.apply");
    /** From this many inserted rows of one statement on, they go by COPY: a few more round trips, far less parsing. */
    static final int COPY_MIN_ROWS = 200;

    private final Connection target;
    private final Map<String, PreparedStatement> prepared = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
            if (size() <= 512) return false;
            Resources.closeQuietly(eldest.getValue(), "a cached statement");
            return true;
        }
    };
    private final Set<QualifiedName> missingRowReported = new HashSet<>();
    private final Set<QualifiedName> existingKeyReported = new HashSet<>();
    /** By identity: one instance stands for one target table's shape (Applier shares it between a hypertable's chunks). */
    private final Map<TargetRelation, Queue> byRelation = new IdentityHashMap<>();
    /** The same queues in the order their relations first had changes, which is the order they are written in. */
    private final List<Queue> inOrder = new ArrayList<>();
    /** The keys in the batch being cut, which may hold each key once. */
    private final KeyPositions batchKeys = new KeyPositions();
    private int rows;
    private long bytes;
    private long coalesced;
    private long copied;

    TargetWriter(Connection target) {
        this.target = target;
    }

    /**
     * Queues a change. On a coalescible relation an upsert replaces a still-queued upsert of the same key and shape:
     * the later row state wins, as it would after both ran, and no other unique constraint can notice the difference.
     */
    void add(PendingRow row) {
        Queue queue = byRelation.get(row.relation());
        if (queue == null) {
            queue = new Queue(row.relation());
            byRelation.put(row.relation(), queue);
            inOrder.add(queue);
        }
        if (row.key() != null && row.relation().coalescible()) {
            int previous = queue.lastByKey.get(row.key());
            if (previous >= 0 && queue.rows.get(previous).statement() == row.statement() && !row.mustFindRow()) {
                bytes += row.bytes() - queue.rows.get(previous).bytes();
                queue.rows.set(previous, row);
                coalesced++;
                return;
            }
            queue.lastByKey.put(row.key(), queue.rows.size());
        }
        queue.rows.add(row);
        rows++;
        bytes += row.bytes();
    }

    /**
     * One relation's queued changes in order, and on a coalescible relation where each key's latest change sits; kept
     * (and its capacity) between flushes.
     */
    private static final class Queue {
        final TargetRelation relation;
        final List<PendingRow> rows = new ArrayList<>();
        final KeyPositions lastByKey = new KeyPositions();

        Queue(TargetRelation relation) {
            this.relation = relation;
        }

        void clear() {
            rows.clear();
            lastByKey.clear();
        }
    }

    /** Rows queued since the last flush. */
    int rows() {
        return rows;
    }

    /** Bytes of the values queued since the last flush. */
    long bytes() {
        return bytes;
    }

    /** Upserts absorbed by a later upsert of the same key, in total. */
    long coalesced() {
        return coalesced;
    }

    /** Rows written by COPY rather than by statements, in total. */
    long copied() {
        return copied;
    }

    /** Executes everything queued, relation by relation, inside the open target transaction; what was queued is dropped either way. */
    void flush() throws SQLException {
        try {
            for (Queue queue : inOrder) if (!queue.rows.isEmpty()) write(queue.relation, queue.rows);
        } finally {
            clear();
        }
    }

    /** Drops what is queued: it was written, or the target transaction is being rolled back. */
    void clear() {
        inOrder.forEach(Queue::clear);
        rows = 0;
        bytes = 0;
    }

    /** Executes one relation's changes in order; a failure names the relation. */
    private void write(TargetRelation relation, List<PendingRow> pending) throws RelationFailure {
        try {
            int start = 0;
            while (start < pending.size()) {
                int end = start;
                // One relation's statements are built once per shape (RowStatements): the same statement is the same instance.
                ChangeStatement statement = pending.get(start).statement();
                batchKeys.clear();
                while (end < pending.size() && pending.get(end).statement() == statement
                        && (pending.get(end).key() == null || batchKeys.add(pending.get(end).key(), end))) {
                    end++;
                }
                execute(pending.subList(start, end));
                start = end;
            }
        } catch (SQLException e) {
            throw new RelationFailure(relation.name(), e);
        }
    }

    private void execute(List<PendingRow> group) throws SQLException {
        if (group.size() >= COPY_MIN_ROWS && group.stream().allMatch(PendingRow::inserted) && copied(group)) return;
        PendingRow first = group.get(0);
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

    /** Writes inserted rows by COPY where their statement has a route; false if they must go by statements. */
    private boolean copied(List<PendingRow> group) throws SQLException {
        PendingRow first = group.get(0);
        CopyRoute route = first.statement().copyRoute();
        if (route == null) return false;
        if (route.write(target, parametersOf(group))) {
            copied += group.size();
            return true;
        }
        if (existingKeyReported.add(first.relation().name())) {
            log.info("{}: {} inserted rows were upserted instead of copied: one of their keys (or another unique value) was already on the"
                            + " target, so the source's rows replace what holds their keys. Rows were written on the target by hand, or it was not"
                            + " empty. Reported once per table.",
                    first.relation().name(), group.size());
        }
        return false;
    }

    /** The rows' parameters as a view, without copying the list. */
    private static List<String[]> parametersOf(List<PendingRow> rows) {
        return new AbstractList<>() {
            @Override
            public String[] get(int index) {
                return rows.get(index).parameters();
            }

            @Override
            public int size() {
                return rows.size();
            }
        };
    }

    private void checkFound(PendingRow row, int changed) {
        if (row.mustFindRow() && changed == 0 && missingRowReported.add(row.relation().name())) {
            log.warn("{}: an UPDATE or DELETE from the source found no matching row on the target. Right after the copy this is expected"
                    + " when the source TRUNCATEd the table while the copy began (TRUNCATE is not MVCC-safe); it heals when the stream applies"
                    + " that TRUNCATE. Otherwise rows were changed on the target by hand: compare the table at cutover. Reported once per table.",
                    row.relation().name());
        }
    }

    void close() {
        prepared.values().forEach(statement -> Resources.closeQuietly(statement, "a cached statement"));
        prepared.clear();
    }
}
