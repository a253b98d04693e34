package dev.ferry.agent.verify;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.Set;

/**
 * One table as {@code ferry verify} compares it, read from the source's catalog: its columns in the source's order
 * (named, so a target whose columns sit in another physical order compares the same), and the column its key ranges
 * are cut on, if it has a primary key or replica identity index.
 *
 * @param from     what to read: {@code ONLY} for a plain table or partition, whole for a hypertable, whose rows
 *                 live in chunks in TimescaleDB's internal schema
 * @param rangeKey the first column of the primary key (or replica identity index) and its type, for key ranges
 * @param bytes    the table's size on the source, to choose how many ranges to cut
 */
record ComparedTable(QualifiedName name, String from, List<String> columns, Optional<RangeKey> rangeKey, long bytes) {

    record RangeKey(String column, String type) {}

    // Leaf tables, partitions and inheritance parents; a hypertable's chunks are read through it. Tables owned by an
    // extension are its catalog, not the application's data.
    private static final String TABLES = """
            SELECT c.oid, n.nspname, c.relname, pg_relation_size(c.oid),
                   EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
                           JOIN pg_namespace chn ON chn.oid = ch.relnamespace
                           WHERE i.inhparent = c.oid AND chn.nspname LIKE '\\_timescaledb%') AS hypertable,
                   k.attname, k.type,
                   ARRAY(SELECT a.attname FROM pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
                   coalesce(rn.nspname, n.nspname) AS root_schema, coalesce(r.relname, c.relname) AS root_name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class r ON r.oid = pg_partition_root(c.oid) LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
            LEFT JOIN LATERAL (SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
                               FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
                               WHERE x.indrelid = c.oid AND (x.indisprimary OR x.indisreplident) AND x.indkey[0] > 0
                               ORDER BY x.indisprimary DESC LIMIT 1) k ON true
            WHERE c.relkind = 'r'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg\\_%'
              AND n.nspname NOT LIKE '\\_timescaledb%' AND n.nspname NOT LIKE 'timescaledb\\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY pg_relation_size(c.oid) DESC, n.nspname, c.relname
            """;

    /** The tables whose rows {@code filter} migrates, biggest first. */
    static List<ComparedTable> list(Connection source, TableFilter filter) throws SQLException {
        return list(source, filter, UnaryOperator.identity());
    }

    /**
     * The same on a database whose tables {@code asSource} gives the source names of (the target under --schema-map):
     * the filter, written in source names, matches those.
     */
    static List<ComparedTable> list(Connection connection, TableFilter filter, UnaryOperator<QualifiedName> asSource) throws SQLException {
        List<ComparedTable> tables = new ArrayList<>();
        try (PreparedStatement s = connection.prepareStatement(TABLES); ResultSet rs = s.executeQuery()) {
            while (rs.next()) {
                QualifiedName name = new QualifiedName(rs.getString(2), rs.getString(3));
                if (!filter.copiesRows(asSource.apply(name), asSource.apply(new QualifiedName(rs.getString(9), rs.getString(10))))) continue;
                String keyColumn = rs.getString(6);
                Optional<RangeKey> key = keyColumn == null ? Optional.empty() : Optional.of(new RangeKey(keyColumn, rs.getString(7)));
                List<String> columns = List.of((String[]) rs.getArray(8).getArray());
                tables.add(new ComparedTable(name, (rs.getBoolean(5) ? "" : "ONLY ") + name, columns, key, rs.getLong(4)));
            }
        }
        return tables;
    }

    /** The same table as named on the target (--schema-map); itself when its schema is not mapped. */
    ComparedTable on(SchemaMap map) {
        QualifiedName there = map.target(name);
        if (there.equals(name)) return this;
        return new ComparedTable(there, (from.startsWith("ONLY ") ? "ONLY " : "") + there, columns, rangeKey, bytes);
    }

    /** The whole row as text, its columns named in the source's order. */
    String rowText(String alias) {
        StringBuilder row = new StringBuilder("ROW(");
        for (int i = 0; i < columns.size(); i++) {
            if (i > 0) row.append(", ");
            row.append(alias).append('.').append(QualifiedName.quote(columns.get(i)));
        }
        return row.append(")::text").toString();
    }
}
