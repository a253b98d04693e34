package dev.ferry.agent.apply;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Row changes of the open target transaction, queued per relation and executed by a {@link TargetWriter}. Order is
 * kept within each relation, which is all that matters: with session_replication_role = replica no trigger or foreign
 * key links two tables, and unique constraints are per table. Owned by the apply thread.
 */
final class ChangeBatch {
    private final TargetWriter target;
    /** By identity: one instance stands for one target table's shape (Applier shares it between a hypertable's chunks). */
    private final Map<TargetRelation, Queue> byRelation = new IdentityHashMap<>();
    /** The same queues in the order their relations first had changes, which is the order they are written in. */
    private final List<Queue> inOrder = new ArrayList<>();
    private int rows;
    private long bytes;
    private long coalesced;

    ChangeBatch(Connection target) {
        this.target = new TargetWriter(target);
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
            Integer previous = queue.lastByKey.get(row.key());
            if (previous != null && queue.rows.get(previous).statement() == row.statement() && !row.mustFindRow()) {
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
        final TargetRelation relation;
        final List<PendingRow> rows = new ArrayList<>();
        final Map<String, Integer> lastByKey = new HashMap<>();

        Queue(TargetRelation relation) {
            this.relation = relation;
        }

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
        return target.copied();
    }

    int rows() {
        return rows;
    }

    long bytes() {
        return bytes;
    }

    /** Executes everything queued, relation by relation, inside the open target transaction. */
    void flush() throws SQLException {
        try {
            for (Queue queue : inOrder) if (!queue.rows.isEmpty()) target.write(queue.relation, queue.rows);
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

    void close() {
        target.close();
    }
}
