package dev.ferry.agent.drift;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A source table's columns as its catalog describes them now, with what a RELATION message does not say: NOT NULL,
 * the default and the value existing rows took when the column was added. Types are spelled schema-qualified (the
 * connection's search_path is pg_catalog), so the spelling means the same type on the target.
 */
final class SourceColumns {
    /**
     * NOTE: atthasmissing is how PostgreSQL adds a column whose default is not volatile without rewriting the table:
     * every existing row takes attmissingval, one value. A column with a default and no missing value was added with a
     * volatile default (or was given its default later): existing rows hold values of their own.
     */
    private static final String COLUMNS = """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                   a.atthasmissing, CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END,
                   a.attidentity, a.attgenerated, n.nspname, t.typname, a.atttypmod
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""";

    /** A column's type by schema, name and modifier: how two servers' columns are compared, whatever their OIDs. */
    record TypeKey(String schema, String name, int modifier) {}

    record Column(String name, String type, boolean notNull, String defaultExpression, boolean hasMissing, String missingValue,
                  char identity, char generated, TypeKey typeKey) {
        boolean generatedStored() { return generated == 's'; }
    }

    private final Connection source;

    /** @param source a connection of its own: its search_path is set to pg_catalog for good */
    SourceColumns(Connection source) throws SQLException {
        this.source = source;
        try (Statement s = source.createStatement()) {
            s.execute("SET search_path = pg_catalog");
        }
    }

    /** The relation's columns by name, in column order; empty if the relation is gone. */
    Map<String, Column> read(int relationId) throws SQLException {
        Map<String, Column> columns = new LinkedHashMap<>();
        try (PreparedStatement s = source.prepareStatement(COLUMNS)) {
            s.setLong(1, Integer.toUnsignedLong(relationId));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    columns.put(rs.getString(1), new Column(rs.getString(1), rs.getString(2), rs.getBoolean(3), rs.getString(4), rs.getBoolean(5),
                            rs.getString(6), rs.getString(7).isEmpty() ? ' ' : rs.getString(7).charAt(0),
                            rs.getString(8).isEmpty() ? ' ' : rs.getString(8).charAt(0), new TypeKey(rs.getString(9), rs.getString(10), rs.getInt(11))));
                }
            }
        }
        return columns;
    }

    /** The type a RELATION message names by OID and modifier, as a key and spelled for SQL. */
    record MessageType(TypeKey key, String spelled) {}

    MessageType type(int typeOid, int modifier) throws SQLException {
        try (PreparedStatement s = source.prepareStatement(
                "SELECT n.nspname, t.typname, format_type(t.oid, ?) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ?")) {
            s.setInt(1, modifier);
            s.setLong(2, Integer.toUnsignedLong(typeOid));
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) return new MessageType(new TypeKey("?", "oid " + typeOid, modifier), "oid " + typeOid);
                return new MessageType(new TypeKey(rs.getString(1), rs.getString(2), modifier), rs.getString(3));
            }
        }
    }

    /** A plain table (not partitioned, no partition, no TimescaleDB hypertable): the kind ferry can copy again on its own. */
    boolean plainTable(int relationId, String schema, String name) throws SQLException {
        long oid = Integer.toUnsignedLong(relationId);
        // A TimescaleDB chunk arrives under its hypertable's name: the name then differs from the relation's own.
        try (PreparedStatement s = source.prepareStatement("""
                SELECT c.relkind = 'r' AND NOT c.relispartition AND n.nspname = ? AND c.relname = ?
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ?""")) {
            s.setString(1, schema);
            s.setString(2, name);
            s.setLong(3, oid);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next() || !rs.getBoolean(1)) return false;
            }
        }
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery("SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) return true;
        }
        try (PreparedStatement s = source.prepareStatement(
                "SELECT 1 FROM _timescaledb_catalog.hypertable h WHERE format('%I.%I', h.schema_name, h.table_name)::regclass::oid = ?")) {
            s.setLong(1, oid);
            try (ResultSet rs = s.executeQuery()) {
                return !rs.next();
            }
        }
    }
}
