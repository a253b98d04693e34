package dev.ferry.agent.demo;

import dev.ferry.agent.db.QualifiedName;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Compares every table of two databases row by row (each row as text, sorted, hashed on the server) and every
 * sequence's position. Both sides must run with the same session settings (ferry's connections use UTC and ISO).
 */
public final class DatabaseComparison {
    private static final int SHOWN_ROWS = 3;

    private DatabaseComparison() {}

    public static ComparisonResult compare(Connection source, Connection target) throws SQLException {
        List<String> differences = new ArrayList<>();
        long rows = 0;
        List<SourceTable> tables = new SourceCatalog().read(source, Set.of());
        for (SourceTable table : tables) {
            String digest = "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM " + table.name() + " t";
            String[] left = row(source, digest);
            String[] right;
            try {
                right = row(target, digest);
            } catch (SQLException missing) {
                differences.add(table.name() + " is missing on the target (" + missing.getMessage() + ")");
                continue;
            }
            rows += Long.parseLong(left[0]);
            if (!left[1].equals(right[1])) {
                differences.add(table.name() + ": " + left[0] + " rows on the source, " + right[0] + " on the target; first differences: "
                        + firstDifferences(source, target, table.name()));
            }
        }
        for (QualifiedName sequence : sequences(source)) {
            String position = "SELECT last_value || CASE WHEN is_called THEN ' (called)' ELSE '' END, '' FROM " + sequence;
            String left = row(source, position)[0];
            String right;
            try {
                right = row(target, position)[0];
            } catch (SQLException missing) {
                right = "missing";
            }
            if (!left.equals(right)) differences.add("sequence " + sequence + ": source at " + left + ", target at " + right);
        }
        return new ComparisonResult(tables.size(), rows, differences);
    }

    private static String firstDifferences(Connection source, Connection target, QualifiedName table) throws SQLException {
        String except = "SELECT t::text FROM " + table + " t ORDER BY 1";
        List<String> left = texts(source, except);
        List<String> right = texts(target, except);
        List<String> onlySource = new ArrayList<>(left);
        right.forEach(onlySource::remove);
        List<String> onlyTarget = new ArrayList<>(right);
        left.forEach(onlyTarget::remove);
        return "only on the source " + onlySource.stream().limit(SHOWN_ROWS).toList() + ", only on the target " + onlyTarget.stream().limit(SHOWN_ROWS).toList();
    }

    private static List<QualifiedName> sequences(Connection source) throws SQLException {
        List<QualifiedName> sequences = new ArrayList<>();
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname <> 'ferry' ORDER BY 1, 2")) {
            while (rs.next()) sequences.add(new QualifiedName(rs.getString(1), rs.getString(2)));
        }
        return sequences;
    }

    private static String[] row(Connection connection, String sql) throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return new String[] {rs.getString(1), rs.getString(2)};
        }
    }

    private static List<String> texts(Connection connection, String sql) throws SQLException {
        List<String> texts = new ArrayList<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) texts.add(rs.getString(1));
        }
        return texts;
    }
}
