package dev.ferry.agent.apply;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The SQL for one relation's changes, built once per shape (which columns a change carries) and cached. Values are
 * bound as text with an explicit cast to the target's type, so they travel in PostgreSQL's own text form from source
 * to target and NaN, Infinity and full precision survive untouched. Inserts and upserts also get a {@link CopyRoute}
 * for when many inserted rows come together, carried in their {@link ChangeStatement}.
 */
final class RowStatements {
    private final TargetRelation relation;
    /** Per statement kind, the statement by the columns a change carries (BitSets are compared by content). */
    private final Map<String, Map<Object, ChangeStatement>> cache = new HashMap<>();

    RowStatements(TargetRelation relation) {
        this.relation = relation;
    }

    TargetRelation relation() {
        return relation;
    }

    /** INSERT ... ON CONFLICT (key) DO UPDATE of the present columns: replays an INSERT or UPDATE idempotently. */
    ChangeStatement upsert(BitSet present) {
        return cached("upsert", present, () ->
                new ChangeStatement(insertPrefix(present) + onConflict(present), CopyRoute.keyed(relation.name(), columnList(present))));
    }

    /** Plain INSERT, for tables without a key (REPLICA IDENTITY FULL, or insert-only tables): duplicates are allowed there. */
    ChangeStatement insert(BitSet present) {
        return cached("insert", present, () ->
                new ChangeStatement(insertPrefix(present).toString(), CopyRoute.plain(relation.name(), columnList(present))));
    }

    /** DELETE of the row with the given key. */
    ChangeStatement deleteByKey() {
        return cached("delete-key", "", () -> statement("DELETE FROM " + relation.name() + " WHERE " + keyMatch()));
    }

    /** UPDATE of one row matched on all its old values (REPLICA IDENTITY FULL); parameters: new values, then old. */
    ChangeStatement updateOneMatching(BitSet present, BitSet oldPresent) {
        return cached("update-full", java.util.List.of(present, oldPresent), () ->
                statement("UPDATE " + relation.name() + " SET " + assignments(present) + " WHERE " + oneRowMatching(oldPresent)));
    }

    /** DELETE of one row matched on all its old values (REPLICA IDENTITY FULL): duplicates are removed one at a time. */
    ChangeStatement deleteOneMatching(BitSet oldPresent) {
        return cached("delete-full", oldPresent, () -> statement("DELETE FROM " + relation.name() + " WHERE " + oneRowMatching(oldPresent)));
    }

    private static ChangeStatement statement(String sql) {
        return new ChangeStatement(sql, null);
    }

    private ChangeStatement cached(String kind, Object shape, java.util.function.Supplier<ChangeStatement> build) {
        Map<Object, ChangeStatement> byShape = cache.computeIfAbsent(kind, k -> new HashMap<>());
        ChangeStatement statement = byShape.get(shape);
        if (statement == null) {
            statement = build.get();
            byShape.put(shape, statement); // shapes are built per change and never modified afterwards
        }
        return statement;
    }

    private boolean isKey(int column) {
        for (int k : relation.key()) if (k == column) return true;
        return false;
    }

    private StringBuilder insertPrefix(BitSet present) {
        // A table with no column the stream carries (none at all, or only generated ones) still gets its rows.
        if (present.isEmpty()) return new StringBuilder("INSERT INTO ").append(relation.name()).append(" DEFAULT VALUES");
        StringBuilder values = new StringBuilder();
        for (int i = present.nextSetBit(0); i >= 0; i = present.nextSetBit(i + 1)) {
            if (values.length() > 0) values.append(", ");
            values.append(relation.parameter(i));
        }
        // The source already chose every value, identity columns included: GENERATED ALWAYS must not replace it.
        return new StringBuilder("INSERT INTO ").append(relation.name()).append(" (").append(columnList(present)).append(") OVERRIDING SYSTEM VALUE VALUES (")
                .append(values).append(')');
    }

    private String columnList(BitSet present) {
        StringBuilder columns = new StringBuilder();
        for (int i = present.nextSetBit(0); i >= 0; i = present.nextSetBit(i + 1)) {
            if (columns.length() > 0) columns.append(", ");
            columns.append(relation.quotedColumn(i));
        }
        return columns.toString();
    }

    /** ON CONFLICT (key) DO UPDATE SET of the present non-key columns (DO NOTHING when only the key is present). */
    private String onConflict(BitSet present) {
        StringBuilder sql = new StringBuilder(" ON CONFLICT (");
        for (int i = 0; i < relation.key().length; i++) {
            if (i > 0) sql.append(", ");
            sql.append(relation.quotedColumn(relation.key()[i]));
        }
        sql.append(") DO ");
        StringBuilder set = new StringBuilder();
        for (int i = present.nextSetBit(0); i >= 0; i = present.nextSetBit(i + 1)) {
            if (isKey(i)) continue;
            if (set.length() > 0) set.append(", ");
            set.append(relation.quotedColumn(i)).append(" = EXCLUDED.").append(relation.quotedColumn(i));
        }
        return sql.append(set.length() == 0 ? "NOTHING" : "UPDATE SET " + set).toString();
    }

    private String assignments(BitSet present) {
        StringBuilder set = new StringBuilder();
        for (int i = present.nextSetBit(0); i >= 0; i = present.nextSetBit(i + 1)) {
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
    private String oneRowMatching(BitSet oldPresent) {
        StringBuilder match = new StringBuilder();
        for (int i = oldPresent.nextSetBit(0); i >= 0; i = oldPresent.nextSetBit(i + 1)) {
            if (match.length() > 0) match.append(" AND ");
            match.append(relation.quotedColumn(i)).append("::text IS NOT DISTINCT FROM ?::text");
        }
        // A partitioned table's rows are told apart by partition and ctid; the subquery returns both as two columns.
        String rowId = relation.partitioned() ? "tableoid, ctid" : "ctid";
        return "(" + rowId + ") = (SELECT " + rowId + " FROM " + relation.name() + (match.length() == 0 ? "" : " WHERE " + match) + " LIMIT 1)";
    }
}
