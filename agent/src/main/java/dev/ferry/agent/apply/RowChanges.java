package dev.ferry.agent.apply;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.Tuple;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.pgoutput.Update;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Turns a source INSERT, UPDATE or DELETE into the pending rows that replay it on the target: an upsert or insert, a
 * delete by key, or a change of exactly one row matched on all its old values (REPLICA IDENTITY FULL). Values stay in
 * the text the source sent. Owned by the apply thread.
 */
final class RowChanges {
    private final NumericNanInf numericNanInf;
    private final Consumer<PendingRow> queue;
    private final Map<QualifiedName, Long> nanInfNulled = new HashMap<>();

    RowChanges(NumericNanInf numericNanInf, Consumer<PendingRow> queue) {
        this.numericNanInf = numericNanInf;
        this.queue = queue;
    }

    void insert(RowStatements statements, Insert insert) {
        TargetRelation relation = statements.relation();
        Values row = values(statements, insert.row());
        ChangeStatement statement = relation.hasKey() ? statements.upsert(row.shape) : statements.insert(row.shape);
        queue.accept(new PendingRow(relation, statement, row.parameters, relation.hasKey() ? keyOf(relation, row) : null, PendingRow.Kind.INSERT, row.bytes));
    }

    void update(RowStatements statements, Update update) {
        TargetRelation relation = statements.relation();
        Values next = values(statements, update.next());
        // Nothing the stream carries changed (a table whose only columns are generated, or none): nothing to write.
        if (next.shape.isEmpty()) return;
        if (relation.fullIdentity()) {
            Tuple oldTuple = update.old().orElseThrow(() -> new IllegalStateException(
                    "UPDATE on " + relation.name() + " with REPLICA IDENTITY FULL carries no old row"));
            Values old = values(statements, oldTuple);
            queue.accept(new PendingRow(relation, statements.updateOneMatching(next.shape, old.shape),
                    concat(next.parameters, old.parameters), null, PendingRow.Kind.MUST_FIND_ROW, next.bytes + old.bytes));
            return;
        }
        requireKey(relation, "UPDATE");
        if (update.old().isPresent()) {
            Values oldKey = values(statements, update.old().get());
            if (!sameKey(relation, oldKey, next)) {
                if (statements.leavesColumnsOut(next.shape)) {
                    // A TOASTed value the change left alone is not in the stream: only the row itself still holds it.
                    queue.accept(new PendingRow(relation, statements.updateByKey(next.shape), concat(next.parameters, keyParameters(relation, oldKey)),
                            keyOf(relation, next), PendingRow.Kind.MUST_FIND_ROW, next.bytes + oldKey.bytes));
                    return;
                }
                // The primary key changed: remove the row under its old key, then write it under the new one.
                queue.accept(new PendingRow(relation, statements.deleteByKey(), keyParameters(relation, oldKey), keyOf(relation, oldKey),
                        PendingRow.Kind.MUST_FIND_ROW, oldKey.bytes));
            }
        }
        queue.accept(new PendingRow(relation, statements.upsert(next.shape), next.parameters, keyOf(relation, next), PendingRow.Kind.UPSERT, next.bytes));
    }

    void delete(RowStatements statements, Delete delete) {
        TargetRelation relation = statements.relation();
        Values old = values(statements, delete.old());
        if (relation.fullIdentity()) {
            queue.accept(new PendingRow(relation, statements.deleteOneMatching(old.shape), old.parameters, null, PendingRow.Kind.MUST_FIND_ROW, old.bytes));
            return;
        }
        requireKey(relation, "DELETE");
        queue.accept(new PendingRow(relation, statements.deleteByKey(), keyParameters(relation, old), keyOf(relation, old), PendingRow.Kind.MUST_FIND_ROW, old.bytes));
    }

    /** NaN/Infinity values written as NULL per table (--numeric-nan-inf null) since this start. */
    Map<QualifiedName, Long> nanInfNulled() {
        return Map.copyOf(nanInfNulled);
    }

    private static void requireKey(TargetRelation relation, String what) {
        if (!relation.hasKey()) {
            throw new FerryException("the stream carries an " + what + " for " + relation.name() + ", which has no tuple identifier.",
                    "without a primary key or replica identity the row to change cannot be found.",
                    "on the source: ALTER TABLE " + relation.name() + " REPLICA IDENTITY FULL; then restart the migration.");
        }
    }

    /** A tuple's values as text parameters, one per column it carries ({@code shape}), in column order. */
    private record Values(TupleShape shape, String[] parameters, long bytes) {}

    private Values values(RowStatements statements, Tuple tuple) {
        TargetRelation relation = statements.relation();
        List<TupleValue> tupleValues = tuple.values();
        TupleShape shape = statements.shapeOf(tupleValues);
        int[] columns = shape.columns();
        String[] parameters = new String[columns.length];
        long bytes = 0;
        for (int p = 0; p < columns.length; p++) {
            int i = columns[p];
            TupleValue value = tupleValues.get(i);
            if (value instanceof TupleValue.Text text) {
                String v = text.value();
                if (relation.numeric()[i] && numericNanInf == NumericNanInf.NULL && isNanOrInfinity(v)) {
                    nanInfNulled.merge(relation.name(), 1L, Long::sum);
                    v = null;
                }
                parameters[p] = v;
                bytes += v == null ? 0 : v.length();
            } else if (!(value instanceof TupleValue.Null)) {
                throw new IllegalStateException("unexpected " + value + " in " + relation.name() + ": ferry streams text-format tuples");
            }
        }
        return new Values(shape, parameters, bytes);
    }

    private static boolean isNanOrInfinity(String numeric) {
        return numeric.equals("NaN") || numeric.equals("Infinity") || numeric.equals("-Infinity");
    }

    private static boolean sameKey(TargetRelation relation, Values old, Values next) {
        for (int column : relation.key()) {
            if (!old.shape.carries(column) || !next.shape.carries(column)) continue;
            if (!Objects.equals(valueAt(old, column), valueAt(next, column))) return false;
        }
        return true;
    }

    /** A column's value, null if NULL or not carried. */
    private static String valueAt(Values values, int column) {
        int position = values.shape.positions()[column];
        return position < 0 ? null : values.parameters[position];
    }

    private static String[] keyParameters(TargetRelation relation, Values values) {
        String[] key = new String[relation.key().length];
        for (int i = 0; i < key.length; i++) key[i] = valueAt(values, relation.key()[i]);
        return key;
    }

    /**
     * The row's key values as one string, compared only with keys of the same relation: a single column's value as it
     * is, several joined after each other by NUL, which PostgreSQL text cannot hold, so two keys are equal exactly when
     * their values are. Null when a value is NULL or not carried: no unique constraint finds such a row by it, so it
     * neither replaces nor is replaced by another change.
     */
    private static String keyOf(TargetRelation relation, Values values) {
        int[] columns = relation.key();
        if (columns.length == 1) return valueAt(values, columns[0]);
        StringBuilder key = new StringBuilder();
        for (int column : columns) {
            String value = valueAt(values, column);
            if (value == null) return null;
            key.append(value).append('\u0000');
        }
        return key.toString();
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
