package dev.ferry.agent.demo;

import dev.ferry.agent.db.QualifiedName;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the first few rows that differ between two copies of one table by walking both sides in row-hash order,
 * like a merge join, so a large table is streamed rather than loaded.
 */
final class RowDifferences {
    private static final int FETCH_SIZE = 1000;

    private RowDifferences() {}

    static List<String> find(QualifiedName table, String from, DatabaseComparison.TableDigest source,
                             DatabaseComparison.TableDigest target, Connection sourceConnection, Connection targetConnection) throws SQLException {
        List<String> out = new ArrayList<>();
        out.add("table " + table + ": " + source.rows() + " rows on the source, " + target.rows() + " on the target"
                + (source.rows() == target.rows() ? ", contents differ" : ""));
        String query = "SELECT md5(" + DatabaseComparison.ROW_TEXT + ") COLLATE \"C\" AS h, " + DatabaseComparison.ROW_TEXT + " FROM "
                + from + " " + DatabaseComparison.ROW_ALIAS + " ORDER BY 1";
        try (Statement a = sourceConnection.createStatement(); Statement b = targetConnection.createStatement()) {
            a.setFetchSize(FETCH_SIZE);
            b.setFetchSize(FETCH_SIZE);
            try (ResultSet ra = a.executeQuery(query); ResultSet rb = b.executeQuery(query)) {
                boolean hasA = ra.next();
                boolean hasB = rb.next();
                int shown = 0;
                while ((hasA || hasB) && shown < DatabaseComparison.MAX_ROWS_SHOWN) {
                    int order = !hasA ? 1 : !hasB ? -1 : ra.getString(1).compareTo(rb.getString(1));
                    if (order == 0) {
                        hasA = ra.next();
                        hasB = rb.next();
                    } else if (order < 0) {
                        out.add("table " + table + ": row only on the source: " + DatabaseComparison.shorten(ra.getString(2)));
                        shown++;
                        hasA = ra.next();
                    } else {
                        out.add("table " + table + ": row only on the target: " + DatabaseComparison.shorten(rb.getString(2)));
                        shown++;
                        hasB = rb.next();
                    }
                }
            }
        }
        return out;
    }
}
