package dev.ferry.agent.apply;

import dev.ferry.replication.pgoutput.TupleValue;

import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The SQL for one relation's changes, built once per shape (which columns a change carries, {@link TupleShape}) and
 * kept. Values are bound as text with an explicit cast to the target's type, so they travel in PostgreSQL's own text
 * form from source to target and NaN, Infinity and full precision survive untouched. Inserts and upserts also get a
 * {@link CopyRoute} for when many inserted rows come together, carried in their {@link ChangeStatement}. Owned by the
 * apply thread.
 */
final class RowStatements {
    private final TargetRelation relation;
    /** Every column the stream carries (all but generated ones): the shape of nearly every change. */
    private final TupleShape every;
    /** The other shapes (changes leaving TOASTed values unchanged), made on first sight. */
    private final Map<BitSet, TupleShape> otherShapes = new HashMap<>();
    private final ByShape upserts = new ByShape();
    private final ByShape inserts = new ByShape();
    private final ByShape deletesOneMatching = new ByShape();
    private final ByShape updatesByKey = new ByShape();
    /** By the new row's shape id in the high half and the old row's in the low half. */
    private final Map<Long, ChangeStatement> updatesOneMatching = new HashMap<>();
    private ChangeStatement deleteByKey;

    RowStatements(TargetRelation relation) {
        this.relation = relation;
        int[] carried = new int[relation.columns().size()];
        int count = 0;
        // The target computes its generated columns: the source's value is neither written nor needed to find a row.
        for (int i = 0; i < carried.length; i++) if (!relation.generated()[i]) carried[count++] = i;
        this.every = TupleShape.of(0, carried.length, Arrays.copyOf(carried, count));
    }

    TargetRelation relation() {
        return relation;
    }

    /** The shape of a tuple of this relation: the columns it carries, which are those its statement writes or matches. */
    TupleShape shapeOf(List<TupleValue> values) {
        for (int i = 0; i < values.size(); i++) {
            if (values.get(i) instanceof TupleValue.UnchangedToast && !relation.generated()[i]) return otherShape(values);
        }
        return every;
    }

    private TupleShape otherShape(List<TupleValue> values) {
        BitSet carried = new BitSet();
        for (int i = 0; i < values.size(); i++) if (!(values.get(i) instanceof TupleValue.UnchangedToast) && !relation.generated()[i]) carried.set(i);
        TupleShape shape = otherShapes.get(carried);
        if (shape == null) {
            shape = TupleShape.of(otherShapes.size() + 1, relation.columns().size(), carried.stream().toArray());
            otherShapes.put(carried, shape);
        }
        return shape;
    }

    /** INSERT ... ON CONFLICT (key) DO UPDATE of the carried columns: replays an INSERT or UPDATE idempotently. */
    ChangeStatement upsert(TupleShape shape) {
        ChangeStatement statement = upserts.get(shape);
        return statement != null ? statement : upserts.put(shape,
                new ChangeStatement(insertPrefix(shape) + onConflict(shape), CopyRoute.keyed(relation.name(), columnList(shape))));
    }

    /** Plain INSERT, for tables without a key (REPLICA IDENTITY FULL, or insert-only tables): duplicates are allowed there. */
    ChangeStatement insert(TupleShape shape) {
        ChangeStatement statement = inserts.get(shape);
        return statement != null ? statement : inserts.put(shape,
                new ChangeStatement(insertPrefix(shape).toString(), CopyRoute.plain(relation.name(), columnList(shape))));
    }

    /** DELETE of the row with the given key. */
    ChangeStatement deleteByKey() {
        if (deleteByKey == null) deleteByKey = statement("DELETE FROM " + relation.name() + " WHERE " + keyMatch());
        return deleteByKey;
    }

    /**
     * UPDATE of the row with the given (old) key to the carried values: a key change that left a TOASTed value
     * unchanged, which the stream does not carry, so the row must move with it rather than be written anew under its
     * new key. Parameters: the new values, then the old key.
     */
    ChangeStatement updateByKey(TupleShape next) {
        ChangeStatement statement = updatesByKey.get(next);
        return statement != null ? statement : updatesByKey.put(next, statement("UPDATE " + relation.name() + " SET " + assignments(next) + " WHERE " + keyMatch()));
    }

    /** Whether a tuple of this shape leaves out a column the target has (a TOASTed value the change left alone). */
    boolean leavesColumnsOut(TupleShape shape) {
        return shape != every;
    }

    /** UPDATE of one row matched on all its old values (REPLICA IDENTITY FULL); parameters: new values, then old. */
    ChangeStatement updateOneMatching(TupleShape next, TupleShape old) {
        return updatesOneMatching.computeIfAbsent(((long) next.id() << 32) | old.id(), k ->
                statement("UPDATE " + relation.name() + " SET " + assignments(next) + " WHERE " + oneRowMatching(old)));
    }

    /** DELETE of one row matched on all its old values (REPLICA IDENTITY FULL): duplicates are removed one at a time. */
    ChangeStatement deleteOneMatching(TupleShape old) {
        ChangeStatement statement = deletesOneMatching.get(old);
        return statement != null ? statement : deletesOneMatching.put(old, statement("DELETE FROM " + relation.name() + " WHERE " + oneRowMatching(old)));
    }

    private static ChangeStatement statement(String sql) {
        return new ChangeStatement(sql, null);
    }

    /** One kind of statement by shape id: an array lookup per change instead of hashing the shape. */
    private static final class ByShape {
        private ChangeStatement[] statements = new ChangeStatement[1];

        ChangeStatement get(TupleShape shape) {
            return shape.id() < statements.length ? statements[shape.id()] : null;
        }

        ChangeStatement put(TupleShape shape, ChangeStatement statement) {
            if (shape.id() >= statements.length) statements = Arrays.copyOf(statements, Math.max(shape.id() + 1, statements.length * 2));
            statements[shape.id()] = statement;
            return statement;
        }
    }

    private boolean isKey(int column) {
        for (int k : relation.key()) if (k == column) return true;
        return false;
    }

    private StringBuilder insertPrefix(TupleShape shape) {
        // A table with no column the stream carries (none at all, or only generated ones) still gets its rows.
        if (shape.isEmpty()) return new StringBuilder("INSERT INTO ").append(relation.name()).append(" DEFAULT VALUES");
        StringBuilder values = new StringBuilder();
        for (int i : shape.columns()) {
            if (values.length() > 0) values.append(", ");
            values.append(relation.parameter(i));
        }
        // The source already chose every value, identity columns included: GENERATED ALWAYS must not replace it.
        return new StringBuilder("INSERT INTO ").append(relation.name()).append(" (").append(columnList(shape)).append(") OVERRIDING SYSTEM VALUE VALUES (")
                .append(values).append(')');
    }

    private String columnList(TupleShape shape) {
        StringBuilder columns = new StringBuilder();
        for (int i : shape.columns()) {
            if (columns.length() > 0) columns.append(", ");
            columns.append(relation.quotedColumn(i));
        }
        return columns.toString();
    }

    /** ON CONFLICT (key) DO UPDATE SET of the carried non-key columns (DO NOTHING when only the key is carried). */
    private String onConflict(TupleShape shape) {
        StringBuilder sql = new StringBuilder(" ON CONFLICT (");
        for (int i = 0; i < relation.key().length; i++) {
            if (i > 0) sql.append(", ");
            sql.append(relation.quotedColumn(relation.key()[i]));
        }
        sql.append(") DO ");
        StringBuilder set = new StringBuilder();
        for (int i : shape.columns()) {
            if (isKey(i)) continue;
            if (set.length() > 0) set.append(", ");
            set.append(relation.quotedColumn(i)).append(" = EXCLUDED.").append(relation.quotedColumn(i));
        }
        return sql.append(set.length() == 0 ? "NOTHING" : "UPDATE SET " + set).toString();
    }

    private String assignments(TupleShape shape) {
        StringBuilder set = new StringBuilder();
        for (int i : shape.columns()) {
            if (set.length() > 0) set.append(", ");
            set.append(relation.quotedColumn(i)).append(" = ").append(relation.parameter(i));
        }
        return set.toString();
    }

    private String keyMatch() {
        StringBuilder where = new StringBuilder();
        for (int i = 0; i < relation.key().length; i++) {
            if (i > 0) where.append(" AND ");
            int column = relation.key()[i];
            where.append(relation.quotedColumn(column)).append(" = ").append(relation.parameter(column));
        }
        return where.toString();
    }

    /**
     * Picks one row whose old values match, compared as text: the text the source sent is the output of the same
     * type's output function the target uses, and text works for types without an equality operator (json, point).
     */
    private String oneRowMatching(TupleShape old) {
        StringBuilder match = new StringBuilder();
        for (int i : old.columns()) {
            if (match.length() > 0) match.append(" AND ");
            match.append(relation.quotedColumn(i)).append("::text IS NOT DISTINCT FROM ?::text");
        }
        // A partitioned table's rows are told apart by partition and ctid; the subquery returns both as two columns.
        String rowId = relation.partitioned() ? "tableoid, ctid" : "ctid";
        return "(" + rowId + ") = (SELECT " + rowId + " FROM " + relation.name() + (match.length() == 0 ? "" : " WHERE " + match) + " LIMIT 1)";
    }
}
