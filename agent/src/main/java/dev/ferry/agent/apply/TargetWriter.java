package dev.ferry.agent.apply;

import dev.ferry.agent.db.Resources;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.AbstractList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Executes one relation's queued changes on the target connection, in order: consecutive rows with the same
 * statement go in one JDBC batch, which the driver sends as multi-row statements, or by COPY when they are many
 * inserted rows; a batch is cut where a key repeats, because one multi-row upsert may not touch the same row twice.
 * Reports, once per table, rows the target held that the source says it should not have. Owned by the apply thread.
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
    private long copied;

    TargetWriter(Connection target) {
        this.target = target;
    }

    /** Rows written by COPY rather than by statements, in total. */
    long copied() {
        return copied;
    }

    /** Executes the changes inside the open target transaction; a failure names the relation. */
    void write(TargetRelation relation, List<PendingRow> pending) throws RelationFailure {
        try {
            int start = 0;
            while (start < pending.size()) {
                int end = start;
                // One relation's statements are built once per shape (RowStatements): the same statement is the same instance.
                ChangeStatement statement = pending.get(start).statement();
                Set<String> keys = new HashSet<>();
                while (end < pending.size() && pending.get(end).statement() == statement
                        && (pending.get(end).key() == null || keys.add(pending.get(end).key()))) {
                    end++;
                }
                execute(pending.subList(start, end));
                start = end;
            }
        } catch (SQLException e) {
            throw new RelationFailure(relation.name(), e);
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
