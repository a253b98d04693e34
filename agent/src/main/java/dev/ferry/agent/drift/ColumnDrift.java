package dev.ferry.agent.drift;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.RelationDrift;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.pgoutput.Relation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Brings a target table in line with a RELATION message, which PostgreSQL sends again after a table's definition
 * changed on the source (logical decoding carries no DDL). A column the source added is added on the target, in the
 * apply transaction, so it commits together with the applied LSN: a kill at any point leaves both or neither, and the
 * message comes again after a restart. A column added with values no change carries (a volatile default, an identity)
 * also makes the table's copy be done again: its copy record goes in the same transaction, and {@link NewTables}
 * copies it anew. Anything else (a dropped, renamed or retyped column, a renamed table) stops the stream with the SQL
 * to run on the target. Owned by the stream thread.
 */
public final class ColumnDrift implements RelationDrift {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");

    private static final String TARGET_COLUMNS = """
            SELECT a.attname, n.nspname, t.typname, a.atttypmod, a.attgenerated <> ''
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""";

    private final SourceColumns source;
    private final Connection target;
    private final StateStore state;
    private final Runnable copyAgainRequested;
    /** The name each relation id had in its last RELATION message this run: a new name for the same id is a rename. */
    private final Map<Integer, QualifiedName> seen = new HashMap<>();

    /**
     * @param source             a source connection of its own (its search_path is changed)
     * @param target             the apply connection, inside the apply transaction
     * @param copyAgainRequested told when a table's copy was forgotten and must be done again
     */
    public ColumnDrift(Connection source, Connection target, StateStore state, Runnable copyAgainRequested) throws SQLException {
        this.source = new SourceColumns(source);
        this.target = target;
        this.state = state;
        this.copyAgainRequested = copyAgainRequested;
    }

    private record TargetColumn(SourceColumns.TypeKey type, boolean generated) {}

    /** Adds what the source added, or throws the pause that says what to run on the target. */
    @Override
    public void reconcile(Relation relation) throws SQLException {
        QualifiedName name = new QualifiedName(relation.namespace(), relation.name());
        QualifiedName before = seen.put(relation.relationId(), name);
        Map<String, TargetColumn> targetColumns = targetColumns(name);
        if (targetColumns.isEmpty()) {
            if (before != null && !before.equals(name)) {
                throw pause(name, "was renamed from " + before + " on the source", renameTable(before, name));
            }
            return; // RelationMapper says what to do about a table the target lacks
        }
        Map<String, SourceColumns.Column> catalog = source.read(relation.relationId());
        Set<String> sent = relation.columns().stream().map(Relation.Column::name).collect(Collectors.toSet());
        List<Relation.Column> missing = new ArrayList<>();
        Map<String, SourceColumns.MessageType> missingTypes = new LinkedHashMap<>();
        List<String> differences = new ArrayList<>();
        List<String> sql = new ArrayList<>();
        for (Relation.Column column : relation.columns()) {
            TargetColumn onTarget = targetColumns.get(column.name());
            SourceColumns.MessageType type = source.type(column.typeOid(), column.typeModifier());
            if (onTarget == null) {
                missing.add(column);
                missingTypes.put(column.name(), type);
            } else if (!onTarget.generated() && !onTarget.type().equals(type.key())) {
                differences.add("column " + QualifiedName.quote(column.name()) + " is " + type.spelled() + " on the source, "
                        + spell(onTarget.type()) + " on the target");
                sql.add("ALTER TABLE " + name + " ALTER COLUMN " + QualifiedName.quote(column.name()) + " TYPE " + type.spelled()
                        + " USING " + QualifiedName.quote(column.name()) + "::" + type.spelled() + ";");
            }
        }
        List<String> extra = targetColumns.entrySet().stream().filter(e -> !e.getValue().generated() && !sent.contains(e.getKey())).map(Map.Entry::getKey).toList();
        if (!extra.isEmpty() || !differences.isEmpty()) {
            if (extra.size() == 1 && missing.size() == 1 && differences.isEmpty()
                    && targetColumns.get(extra.get(0)).type().equals(missingTypes.get(missing.get(0).name()).key())) {
                String from = QualifiedName.quote(extra.get(0));
                String to = QualifiedName.quote(missing.get(0).name());
                throw pause(name, "has column " + to + " where the target has " + from + " (renamed on the source)",
                        List.of("ALTER TABLE " + name + " RENAME COLUMN " + from + " TO " + to + ";"));
            }
            for (String column : extra) {
                differences.add("column " + QualifiedName.quote(column) + " is gone on the source");
                sql.add("ALTER TABLE " + name + " DROP COLUMN " + QualifiedName.quote(column) + ";");
            }
            for (Relation.Column column : missing) {
                differences.add("column " + QualifiedName.quote(column.name()) + " is new on the source");
                sql.add("ALTER TABLE " + name + " ADD COLUMN " + QualifiedName.quote(column.name()) + " " + missingTypes.get(column.name()).spelled() + ";");
            }
            throw pause(name, String.join("; ", differences), sql);
        }
        for (Relation.Column column : missing) {
            if (!catalog.containsKey(column.name())) {
                throw pause(name, "has column " + QualifiedName.quote(column.name()) + " in the stream, which its catalog no longer has (changed again since)",
                        List.of("ALTER TABLE " + name + " ADD COLUMN " + QualifiedName.quote(column.name()) + " " + missingTypes.get(column.name()).spelled() + ";"));
            }
        }
        Set<String> missingNames = missing.stream().map(Relation.Column::name).collect(Collectors.toSet());
        // In the source's column order, so rows read as a whole (SELECT *, ROW(t.*)) have the same shape on both sides.
        // Before PostgreSQL 18 a stored generated column is not sent: the catalog tells of it, and the target computes
        // it. The catalog is read now and may be ahead of the stream: a column it has that neither the message nor the
        // target has is added at a later message, and so is every column after it.
        List<SourceColumns.Column> added = new ArrayList<>();
        for (SourceColumns.Column column : catalog.values()) {
            boolean unknown = !sent.contains(column.name()) && !targetColumns.containsKey(column.name());
            if (missingNames.contains(column.name()) || (unknown && column.generatedStored())) added.add(column);
            else if (unknown) break;
        }
        if (!added.isEmpty()) add(relation, name, added);
    }

    private void add(Relation relation, QualifiedName name, List<SourceColumns.Column> added) throws SQLException {
        // PostgreSQL adds a column to a whole partition tree at its root; each partition's RELATION message then finds it.
        QualifiedName table = partitionRoot(name);
        boolean copyAgain = false;
        for (SourceColumns.Column column : added) {
            if (!typeExists(column.type())) {
                throw pause(name, "has the new column " + QualifiedName.quote(column.name()) + " of type " + column.type() + ", which the target lacks",
                        List.of("-- create the type as on the source (pg_dump --schema-only of it), then:",
                                "ALTER TABLE " + name + " ADD COLUMN " + QualifiedName.quote(column.name()) + " " + column.type() + ";"));
            }
            NewColumn change = NewColumn.of(table, column, !column.notNull() || tableIsEmpty(table));
            if (change.copyAgain() && !source.plainTable(relation.relationId(), relation.namespace(), relation.name())) {
                throw new FerryException("the source's table " + name + " has the new column " + QualifiedName.quote(column.name()) + " whose existing rows hold values of their own ("
                        + change.reason() + ").",
                        "no change message carries those values, and ferry copies a table again during the stream only if it is a plain table (not a partition or hypertable).",
                        "start the copy again: run the same `ferry run` with --restart-copy.");
            }
            try (Statement s = target.createStatement()) {
                for (String statement : change.statements()) s.execute(statement);
            }
            // NOTE: operators grep stream.log for "added column".
            log.warn("added column {} to {} on the target, as on the source (logical decoding carries no DDL): {}{}", QualifiedName.quote(column.name()), table,
                    String.join("; ", change.statements()), change.note().isEmpty() ? "" : "; " + change.note());
            copyAgain |= change.copyAgain();
        }
        if (copyAgain) {
            // In the apply transaction: the column and the forgotten copy commit with the applied LSN, or neither does.
            state.forgetTable(target, name);
            log.warn("{} is copied again in a new snapshot: its existing rows hold values on the source that no change carries", name);
            copyAgainRequested.run();
        }
    }

    private Map<String, TargetColumn> targetColumns(QualifiedName name) throws SQLException {
        Map<String, TargetColumn> columns = new LinkedHashMap<>();
        try (PreparedStatement s = target.prepareStatement(TARGET_COLUMNS)) {
            s.setString(1, name.toString());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    columns.put(rs.getString(1), new TargetColumn(new SourceColumns.TypeKey(rs.getString(2), rs.getString(3), rs.getInt(4)), rs.getBoolean(5)));
                }
            }
        }
        return columns;
    }

    private QualifiedName partitionRoot(QualifiedName name) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_partition_root(to_regclass(?))")) {
            s.setString(1, name.toString());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? new QualifiedName(rs.getString(1), rs.getString(2)) : name;
            }
        }
    }

    private boolean typeExists(String type) throws SQLException {
        try (PreparedStatement s = target.prepareStatement("SELECT to_regtype(?) IS NOT NULL")) {
            s.setString(1, type);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private boolean tableIsEmpty(QualifiedName name) throws SQLException {
        try (Statement s = target.createStatement(); ResultSet rs = s.executeQuery("SELECT NOT EXISTS (SELECT 1 FROM " + name + ")")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    private static String spell(SourceColumns.TypeKey type) {
        return (type.schema().equals("pg_catalog") ? "" : QualifiedName.quote(type.schema()) + ".") + QualifiedName.quote(type.name())
                + (type.modifier() >= 0 ? " (modifier " + type.modifier() + ")" : "");
    }

    private static List<String> renameTable(QualifiedName before, QualifiedName now) {
        List<String> sql = new ArrayList<>();
        if (!before.schema().equals(now.schema())) {
            sql.add("ALTER TABLE " + before + " SET SCHEMA " + QualifiedName.quote(now.schema()) + ";");
            before = new QualifiedName(now.schema(), before.name());
        }
        if (!before.name().equals(now.name())) sql.add("ALTER TABLE " + before + " RENAME TO " + QualifiedName.quote(now.name()) + ";");
        return sql;
    }

    /** NOTE: the pause's wording (the table, "changed on the source", the SQL) is documented in docs/ddl.md. */
    private static FerryException pause(QualifiedName table, String difference, List<String> sql) {
        return new FerryException("the source's table " + table + " changed on the source: it " + difference + ".",
                "logical decoding carries no DDL. ferry adds columns the source adds, but a dropped, renamed or retyped column or a renamed table"
                        + " must be changed on the target by hand, or the stream's rows would land in the wrong columns. The stream stopped before"
                        + " applying the first change of the new definition; nothing after it was applied.",
                "run on the target:\n  " + String.join("\n  ", sql) + "\nthen run `ferry run` again: it resumes from the last applied transaction.");
    }
}
