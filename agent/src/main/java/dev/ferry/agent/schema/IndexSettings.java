package dev.ferry.agent.schema;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What pg_dump writes into an index's (or key's) own TOC entry besides the index itself: the table's replica
 * identity ({@code REPLICA IDENTITY USING INDEX}), its clustered index ({@code CLUSTER ON}), statistics targets of
 * expression columns ({@code ALTER INDEX ... ALTER COLUMN n SET STATISTICS}) and {@code DEPENDS ON EXTENSION}. An
 * index built during the copy, or found on the target by a rerun, skips that entry, so after post-data these settings
 * are compared with the source's, index by index, and whatever the target lacks is set. Comparing rather than
 * remembering what was built makes it right after a crash at any point.
 */
final class IndexSettings {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /** One index's settings; {@code statistics} maps an index column number to its target, {@code extensions} are names. */
    record Index(QualifiedName table, String name, boolean replicaIdentity, boolean clustered, Map<Integer, Integer> statistics,
                 List<String> extensions) {

        /** Statements that give {@code current} (the same index on the target) these settings; none when they match. */
        List<String> statementsFrom(Index current) {
            List<String> sql = new ArrayList<>();
            String index = QualifiedName.quote(name);
            if (replicaIdentity && !current.replicaIdentity) sql.add("ALTER TABLE ONLY " + table + " REPLICA IDENTITY USING INDEX " + index);
            if (clustered && !current.clustered) sql.add("ALTER TABLE " + table + " CLUSTER ON " + index);
            QualifiedName qualified = new QualifiedName(table.schema(), name);
            statistics.forEach((column, target) -> {
                if (!Objects.equals(target, current.statistics.get(column))) {
                    sql.add("ALTER INDEX " + qualified + " ALTER COLUMN " + column + " SET STATISTICS " + target);
                }
            });
            for (String extension : extensions) {
                if (!current.extensions.contains(extension)) sql.add("ALTER INDEX " + qualified + " DEPENDS ON EXTENSION " + QualifiedName.quote(extension));
            }
            return sql;
        }
    }

    // Statistics targets other than the default (-1 before PostgreSQL 17, NULL from 17 on); pg_dump writes only those.
    private static final String ALL = """
            SELECT n.nspname, t.relname, i.relname, x.indisreplident, x.indisclustered,
                   (SELECT string_agg(a.attnum || '=' || a.attstattarget, ',') FROM pg_attribute a
                    WHERE a.attrelid = i.oid AND coalesce(a.attstattarget, -1) >= 0),
                   ARRAY(SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = i.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'x')
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg\\_%'""";

    private IndexSettings() {}

    /** Sets on the target what its indexes lack of the source's settings; returns how many statements that took. */
    static int apply(Connection source, Connection target) throws SQLException {
        Map<String, Index> onTarget = new HashMap<>();
        for (Index index : read(target)) onTarget.put(key(index), index);
        int applied = 0;
        try (Statement s = target.createStatement()) {
            for (Index wanted : read(source)) {
                Index current = onTarget.get(key(wanted));
                if (current == null) continue; // an excluded table's, or one post-data failed to build and reported
                for (String sql : wanted.statementsFrom(current)) {
                    try {
                        s.execute(sql);
                    } catch (SQLException e) {
                        throw new FerryException("post-data could not give index " + QualifiedName.quote(wanted.name()) + " on " + wanted.table()
                                + " the source's settings: " + sql, e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                                "fix what the message names on the target, then run ferry again: the statement is run again.", e);
                    }
                    log.debug("post-data: {}", sql);
                    applied++;
                }
            }
        }
        return applied;
    }

    private static String key(Index index) {
        return index.table() + "." + QualifiedName.quote(index.name());
    }

    static List<Index> read(Connection connection) throws SQLException {
        List<Index> indexes = new ArrayList<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(ALL)) {
            while (rs.next()) {
                Map<Integer, Integer> statistics = new HashMap<>();
                String targets = rs.getString(6);
                if (targets != null) {
                    for (String pair : targets.split(",")) {
                        String[] parts = pair.split("=");
                        statistics.put(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
                    }
                }
                List<String> extensions = List.of((String[]) rs.getArray(7).getArray());
                indexes.add(new Index(new QualifiedName(rs.getString(1), rs.getString(2)), rs.getString(3), rs.getBoolean(4), rs.getBoolean(5),
                        statistics, extensions));
            }
        }
        return indexes;
    }
}
