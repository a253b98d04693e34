package dev.ferry.agent.demo;

import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.verify.RowDifferences;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Compares two databases row by row: every user table's rows as text (all columns, order-independent) and every
 * sequence's last_value/is_called. Ignores ferry's own schema {@code ferry}, system schemas and TimescaleDB's
 * internal ones. Each side is read in one REPEATABLE READ, READ ONLY transaction with fixed output settings, so
 * values print the same way on both servers; the connections are left as they were given.
 */
public final class DatabaseComparison {
    /** Differing rows reported per table; enough to see the pattern without flooding a log. */
    static final int MAX_ROWS_SHOWN = 5;
    /**
     * A whole row as text. A bare alias would be taken for a column of the same name (a table with a column "t"
     * would be compared on that column alone); {@code alias.*} always means the row.
     */
    static final String ROW_ALIAS = "ferry_compared_row";
    static final String ROW_TEXT = "ROW(" + ROW_ALIAS + ".*)::text";

    // NOTE: leaf tables and inheritance parents are read with ONLY, so partitioned rows are checked in the partition
    // they live in; a table whose children live in a TimescaleDB internal schema (a hypertable) is read whole.
    private static final String TABLES = """
            SELECT n.nspname, c.relname,
                   EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
                           JOIN pg_namespace chn ON chn.oid = ch.relnamespace
                           WHERE i.inhparent = c.oid AND chn.nspname LIKE '\\_timescaledb%%') AS hypertable
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = ? AND %s
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            """;
    private static final String USER_SCHEMA = """
            n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg\\_%'
              AND n.nspname NOT LIKE '\\_timescaledb%' AND n.nspname NOT LIKE 'timescaledb\\_%'""";

    private DatabaseComparison() {}

    /** Compares every user table of the source and target row by row, plus every sequence's last_value/is_called; ignores schema {@code ferry}. */
    public static ComparisonResult compare(Connection source, Connection target) throws SQLException {
        try (ReadSession s = new ReadSession(source); ReadSession t = new ReadSession(target)) {
            List<String> differences = new ArrayList<>();
            Map<QualifiedName, Boolean> sourceTables = relations(source, "r");
            Map<QualifiedName, Boolean> targetTables = relations(target, "r");
            reportMissing("table", sourceTables.keySet(), targetTables.keySet(), differences);
            int tables = 0;
            long rows = 0;
            for (Map.Entry<QualifiedName, Boolean> table : sourceTables.entrySet()) {
                if (!targetTables.containsKey(table.getKey())) continue;
                String from = (table.getValue() ? "" : "ONLY ") + table.getKey();
                TableDigest a = TableDigest.of(source, from);
                TableDigest b = TableDigest.of(target, from);
                tables++;
                rows += a.rows();
                if (a.equals(b)) continue;
                differences.add("table " + table.getKey() + ": " + a.rows() + " rows on the source, " + b.rows() + " on the target"
                        + (a.rows() == b.rows() ? ", contents differ" : ""));
                differences.addAll(RowDifferences.find(table.getKey(), ROW_TEXT, from + " " + ROW_ALIAS, source, target, MAX_ROWS_SHOWN));
            }
            Map<QualifiedName, Boolean> sourceSequences = relations(source, "S");
            Map<QualifiedName, Boolean> targetSequences = relations(target, "S");
            reportMissing("sequence", sourceSequences.keySet(), targetSequences.keySet(), differences);
            for (QualifiedName sequence : sourceSequences.keySet()) {
                if (!targetSequences.containsKey(sequence)) continue;
                String a = sequenceState(source, sequence);
                String b = sequenceState(target, sequence);
                if (!a.equals(b)) differences.add("sequence " + sequence + ": source " + a + ", target " + b);
            }
            return new ComparisonResult(tables, rows, differences);
        }
    }

    private static Map<QualifiedName, Boolean> relations(Connection connection, String relkind) throws SQLException {
        Map<QualifiedName, Boolean> found = new TreeMap<>();
        try (var ps = connection.prepareStatement(TABLES.formatted(USER_SCHEMA))) {
            ps.setString(1, relkind);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) found.put(new QualifiedName(rs.getString(1), rs.getString(2)), rs.getBoolean(3));
            }
        }
        return found;
    }

    private static void reportMissing(String kind, Iterable<QualifiedName> source, Iterable<QualifiedName> target, List<String> out) {
        TreeSet<QualifiedName> onlySource = new TreeSet<>();
        source.forEach(onlySource::add);
        TreeSet<QualifiedName> onlyTarget = new TreeSet<>();
        target.forEach(onlyTarget::add);
        TreeSet<QualifiedName> common = new TreeSet<>(onlySource);
        common.retainAll(onlyTarget);
        onlySource.removeAll(common);
        onlyTarget.removeAll(common);
        onlySource.forEach(n -> out.add(kind + " " + n + " exists only on the source"));
        onlyTarget.forEach(n -> out.add(kind + " " + n + " exists only on the target"));
    }

    private static String sequenceState(Connection connection, QualifiedName sequence) throws SQLException {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT last_value, is_called FROM " + sequence)) {
            rs.next();
            return "last_value=" + rs.getString(1) + " is_called=" + rs.getBoolean(2);
        }
    }

    /** Row count and a digest of the sorted row hashes; equal digests mean equal multisets of rows. */
    record TableDigest(long rows, String digest) {
        static TableDigest of(Connection connection, String from) throws SQLException {
            try (Statement s = connection.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*), md5(string_agg(md5(" + ROW_TEXT + "), '' ORDER BY md5(" + ROW_TEXT + ") COLLATE \"C\")) FROM "
                         + from + " " + ROW_ALIAS)) {
                rs.next();
                return new TableDigest(rs.getLong(1), Objects.requireNonNullElse(rs.getString(2), ""));
            }
        }
    }

    /** Sets output settings and a read-only snapshot for the comparison; restores the connection on close. */
    private static final class ReadSession implements AutoCloseable {
        private final Connection connection;
        private final boolean autoCommit;

        ReadSession(Connection connection) throws SQLException {
            this.connection = connection;
            this.autoCommit = connection.getAutoCommit();
            if (!autoCommit) connection.rollback();
            connection.setAutoCommit(false);
            try (Statement s = connection.createStatement()) {
                s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                // Both sides must print values alike, whatever the caller's session settings are.
                s.execute("SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL IntervalStyle = 'postgres';"
                        + " SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; SET LOCAL xmloption = 'content'");
            }
        }

        @Override
        public void close() throws SQLException {
            try {
                connection.rollback();
            } finally {
                connection.setAutoCommit(autoCommit);
            }
        }
    }
}
