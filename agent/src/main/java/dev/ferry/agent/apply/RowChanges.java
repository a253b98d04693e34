package dev.ferry.agent.apply;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.Tuple;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.pgoutput.Update;

import java.util.ArrayList;
import java.util.BitSet;
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
        Values row = values(relation, insert.row());
        ChangeStatement statement = relation.hasKey() ? statements.upsert(row.present) : statements.insert(row.present);
        queue.accept(new PendingRow(relation, statement, row.parameters(), relation.hasKey() ? keyOf(relation, row) : null, PendingRow.Kind.INSERT, row.bytes));
    }

    void update(RowStatements statements, Update update) {
        TargetRelation relation = statements.relation();
        Values next = values(relation, update.next());
        // Nothing the stream carries changed (a table whose only columns are generated, or none): nothing to write.
        if (next.present.isEmpty()) return;
        if (relation.fullIdentity()) {
            Tuple oldTuple = update.old().orElseThrow(() -> new IllegalStateException(
                    "UPDATE on " + relation.name() + " with REPLICA IDENTITY FULL carries no old row"));
            Values old = values(relation, oldTuple);
            queue.accept(new PendingRow(relation, statements.updateOneMatching(next.present, old.present),
                    concat(next.parameters(), old.parameters()), null, PendingRow.Kind.MUST_FIND_ROW, next.bytes + old.bytes));
            return;
        }
        requireKey(relation, "UPDATE");
        if (update.old().isPresent()) {
            Values oldKey = values(relation, update.old().get());
            if (!sameKey(relation, oldKey, next)) {
                // The primary key changed: remove the row under its old key, then write it under the new one.
                queue.accept(new PendingRow(relation, statements.deleteByKey(), keyParameters(relation, oldKey), keyOf(relation, oldKey),
                        PendingRow.Kind.MUST_FIND_ROW, oldKey.bytes));
            }
        }
        queue.accept(new PendingRow(relation, statements.upsert(next.present), next.parameters(), keyOf(relation, next), PendingRow.Kind.UPSERT, next.bytes));
    }

    void delete(RowStatements statements, Delete delete) {
        TargetRelation relation = statements.relation();
        Values old = values(relation, delete.old());
        if (relation.fullIdentity()) {
            queue.accept(new PendingRow(relation, statements.deleteOneMatching(old.present), old.parameters(), null, PendingRow.Kind.MUST_FIND_ROW, old.bytes));
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

    /** A tuple's values as text parameters, with the columns it carries (unchanged TOAST values are left out). */
    private record Values(BitSet present, List<String> values, long bytes) {
        String[] parameters() {
            return values.toArray(new String[0]);
        }
    }

    private Values values(TargetRelation relation, Tuple tuple) {
        BitSet present = new BitSet();
        List<String> values = new ArrayList<>(tuple.values().size());
        long bytes = 0;
        for (int i = 0; i < tuple.values().size(); i++) {
            TupleValue value = tuple.values().get(i);
            // The target computes its generated columns: the source's value is neither written nor needed to find a row.
            if (value instanceof TupleValue.UnchangedToast || relation.generated()[i]) continue;
            present.set(i);
            if (value instanceof TupleValue.Null) {
                values.add(null);
            } else if (value instanceof TupleValue.Text text) {
                String v = text.value();
                if (relation.numeric()[i] && numericNanInf == NumericNanInf.NULL && isNanOrInfinity(v)) {
                    nanInfNulled.merge(relation.name(), 1L, Long::sum);
                    v = null;
                }
                values.add(v);
                bytes += v == null ? 0 : v.length();
            } else {
                throw new IllegalStateException("unexpected " + value + " in " + relation.name() + ": ferry streams text-format tuples");
            }
        }
        return new Values(present, values, bytes);
    }

    private static boolean isNanOrInfinity(String numeric) {
        return numeric.equals("NaN") || numeric.equals("Infinity") || numeric.equals("-Infinity");
    }

    private static boolean sameKey(TargetRelation relation, Values old, Values next) {
        for (int column : relation.key()) {
            if (!old.present.get(column) || !next.present.get(column)) continue;
            if (!Objects.equals(valueAt(old, column), valueAt(next, column))) return false;
        }
        return true;
    }

    private static String valueAt(Values values, int column) {
        // values only holds present columns, in column order
        int position = values.present.get(0, column).cardinality();
        return values.values.get(position);
    }

    private static String[] keyParameters(TargetRelation relation, Values values) {
        String[] key = new String[relation.key().length];
        for (int i = 0; i < key.length; i++) key[i] = valueAt(values, relation.key()[i]);
        return key;
    }

    /** The row's key values as one string: NUL cannot occur in PostgreSQL text, so it separates them unambiguously. */
    private static String keyOf(TargetRelation relation, Values values) {
        StringBuilder key = new StringBuilder();
        for (int column : relation.key()) {
            String value = valueAt(values, column);
            key.append(value == null ? "\u0001" : value).append('\u0000');
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
