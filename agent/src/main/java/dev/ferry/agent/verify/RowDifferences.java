package dev.ferry.agent.verify;

import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the first few rows that differ between two copies of one table (or one key range of it) by walking both
 * sides in row-hash order, like a merge join, so a large table is streamed rather than loaded.
 */
public final class RowDifferences {
    private static final int FETCH_SIZE = 1000;
    private static final int MAX_ROW_TEXT = 300;

    private RowDifferences() {}

    /**
     * @param rowText an expression giving a whole row as text, e.g. {@code ROW(t.*)::text}
     * @param from    what follows FROM: the relation, its alias and any WHERE clause
     * @param limit   how many differing rows to report at most
     */
    public static List<String> find(QualifiedName table, String rowText, String from, Connection source, Connection target, int limit)
            throws SQLException {
        return find(table, rowText, from, from, source, target, limit);
    }

    /** @param targetFrom what to read on the target, when its table is named otherwise (--schema-map) */
    public static List<String> find(QualifiedName table, String rowText, String from, String targetFrom, Connection source, Connection target,
                                    int limit) throws SQLException {
        List<String> out = new ArrayList<>();
        String query = "SELECT md5(" + rowText + ") COLLATE \"C\" AS h, " + rowText + " FROM " + from + " ORDER BY 1";
        String targetQuery = "SELECT md5(" + rowText + ") COLLATE \"C\" AS h, " + rowText + " FROM " + targetFrom + " ORDER BY 1";
        boolean autoCommitSource = source.getAutoCommit();
        boolean autoCommitTarget = target.getAutoCommit();
        // A fetch size only streams inside a transaction; otherwise pgjdbc reads the whole result into memory.
        source.setAutoCommit(false);
        target.setAutoCommit(false);
        try (Statement a = source.createStatement(); Statement b = target.createStatement()) {
            a.setFetchSize(FETCH_SIZE);
            b.setFetchSize(FETCH_SIZE);
            try (ResultSet ra = a.executeQuery(query); ResultSet rb = b.executeQuery(targetQuery)) {
                boolean hasA = ra.next();
                boolean hasB = rb.next();
                while ((hasA || hasB) && out.size() < limit) {
                    int order = !hasA ? 1 : !hasB ? -1 : ra.getString(1).compareTo(rb.getString(1));
                    if (order == 0) {
                        hasA = ra.next();
                        hasB = rb.next();
                    } else if (order < 0) {
                        out.add("table " + table + ": row only on the source: " + shorten(ra.getString(2)));
                        hasA = ra.next();
                    } else {
                        out.add("table " + table + ": row only on the target: " + shorten(rb.getString(2)));
                        hasB = rb.next();
                    }
                }
            }
        } finally {
            if (autoCommitSource) {
                source.rollback();
                source.setAutoCommit(true);
            }
            if (autoCommitTarget) {
                target.rollback();
                target.setAutoCommit(true);
            }
        }
        return out;
    }

    static String shorten(String rowText) {
        return rowText.length() <= MAX_ROW_TEXT ? rowText
                : rowText.substring(0, MAX_ROW_TEXT) + "... (" + rowText.length() + " characters)";
    }
}
