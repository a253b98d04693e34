package dev.ferry.agent.apply;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Makes the target's {@code GENERATED ALWAYS} identity columns {@code BY DEFAULT} while the stream applies, and
 * {@code ALWAYS} again at cutover. The apply writes the source's values into every column: an INSERT can say
 * {@code OVERRIDING SYSTEM VALUE} (and COPY writes what it is given), but an UPDATE or {@code ON CONFLICT DO UPDATE}
 * has no such clause and PostgreSQL refuses it outright ("column can only be updated to DEFAULT"), whatever the
 * value. Only the tables the stream names (plain tables and partition roots) are changed: PostgreSQL checks identity on
 * the table a statement names. The sequences behind the columns are untouched.
 */
public final class IdentityColumns {
    private static final Logger streamLog = LoggerFactory.getLogger("ferry.stream");
    private static final Logger cutoverLog = LoggerFactory.getLogger("ferry.cutover");

    private static final String COLUMNS = """
            SELECT t.name, a.attname FROM unnest(?::text[]) AS t(name)
            JOIN pg_attribute a ON a.attrelid = to_regclass(t.name)
            WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = ?
            ORDER BY 1, 2""";

    private IdentityColumns() {}

    private record Column(String table, String name) {
        String alter(String kind) {
            return "ALTER TABLE " + table + " ALTER COLUMN " + QualifiedName.quote(name) + " SET GENERATED " + kind;
        }
    }

    /** Before the stream applies anything: every ALWAYS identity column of {@code tables} on the target becomes BY DEFAULT. */
    public static void relax(Connection target, List<QualifiedName> tables) throws SQLException {
        Set<Column> always = columns(target, tables, 'a');
        alter(target, always, "BY DEFAULT");
        if (!always.isEmpty()) {
            streamLog.info("{} identity columns GENERATED ALWAYS are BY DEFAULT on the target until cutover, so updates can set the source's values: {}",
                    always.size(), describe(always));
        }
    }

    /**
     * At cutover, once nothing is left to apply: identity columns ALWAYS on the source and BY DEFAULT on the target
     * are ALWAYS again. Returns how many.
     */
    public static int restore(Connection source, Connection target, List<QualifiedName> tables, SchemaMap schemaMap) throws SQLException {
        Set<Column> restore = new LinkedHashSet<>();
        for (Column onSource : columns(source, tables, 'a')) {
            restore.add(new Column(schemaMap.target(QualifiedName.parse(onSource.table())).toString(), onSource.name()));
        }
        restore.retainAll(columns(target, tables.stream().map(schemaMap::target).toList(), 'd'));
        alter(target, restore, "ALWAYS");
        if (!restore.isEmpty()) cutoverLog.info("{} identity columns are GENERATED ALWAYS again on the target: {}", restore.size(), describe(restore));
        return restore.size();
    }

    private static Set<Column> columns(Connection db, List<QualifiedName> tables, char identity) throws SQLException {
        Set<Column> columns = new LinkedHashSet<>();
        try (PreparedStatement s = db.prepareStatement(COLUMNS)) {
            s.setArray(1, db.createArrayOf("text", tables.stream().map(QualifiedName::toString).toArray()));
            s.setString(2, String.valueOf(identity));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) columns.add(new Column(rs.getString(1), rs.getString(2)));
            }
        }
        return columns;
    }

    /** One target transaction for all of them; waits for locks (a background ANALYZE) rather than failing. */
    private static void alter(Connection target, Set<Column> columns, String kind) throws SQLException {
        if (columns.isEmpty()) return;
        boolean autoCommit = target.getAutoCommit();
        target.setAutoCommit(false);
        try (Statement s = target.createStatement()) {
            s.execute("SET LOCAL lock_timeout = 0");
            s.execute("SET LOCAL statement_timeout = 0");
            for (Column column : columns) s.execute(column.alter(kind));
            target.commit();
        } catch (SQLException e) {
            target.rollback();
            throw e;
        } finally {
            target.setAutoCommit(autoCommit);
        }
    }

    private static String describe(Set<Column> columns) {
        List<String> names = new ArrayList<>();
        for (Column column : columns) names.add(column.table() + "." + QualifiedName.quote(column.name()));
        return String.join(", ", names);
    }
}
