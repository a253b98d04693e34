package dev.ferry.agent.verify;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Cuts a big table into ranges of its key column from the source's planner statistics (the histogram of that
 * column in {@code pg_stats}), so big tables are compared in parallel, each range in a short statement of its own
 * instead of one long transaction. A table without statistics, without a key, or smaller than one range is compared
 * whole.
 */
public final class KeyRanges {
    /** About this much of a table's heap per range, unless told otherwise. */
    public static final long RANGE_BYTES = 64L << 20;
    private static final int MAX_RANGES = 64;

    private KeyRanges() {}

    static List<KeyRange> plan(Connection source, ComparedTable table, long rangeBytes) throws SQLException {
        if (table.rangeKey().isEmpty() || table.bytes() < 2 * rangeBytes) return List.of(KeyRange.WHOLE);
        List<String> histogram = histogram(source, table);
        int wanted = (int) Math.min(Math.min(MAX_RANGES, table.bytes() / rangeBytes), histogram.size() + 1L);
        if (wanted < 2) return List.of(KeyRange.WHOLE);
        List<String> bounds = new ArrayList<>();
        for (int i = 1; i < wanted; i++) {
            String bound = histogram.get((int) ((long) i * histogram.size() / wanted));
            if (bounds.isEmpty() || !bounds.get(bounds.size() - 1).equals(bound)) bounds.add(bound);
        }
        return KeyRange.between(bounds);
    }

    /** The key column's histogram bounds, in the column's order; empty when the source has none. */
    private static List<String> histogram(Connection source, ComparedTable table) throws SQLException {
        ComparedTable.RangeKey key = table.rangeKey().orElseThrow();
        // histogram_bounds is anyarray: its text form is cast back to the column's type so the bounds keep their order.
        String query = "SELECT b::text FROM pg_stats s, unnest(s.histogram_bounds::text::" + key.type() + "[]) WITH ORDINALITY AS u(b, i)"
                + " WHERE s.schemaname = ? AND s.tablename = ? AND s.attname = ? AND NOT s.inherited ORDER BY i";
        List<String> bounds = new ArrayList<>();
        try (PreparedStatement s = source.prepareStatement(query)) {
            s.setString(1, table.name().schema());
            s.setString(2, table.name().name());
            s.setString(3, key.column());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) bounds.add(rs.getString(1));
            }
        } catch (SQLException e) {
            // A type whose text form does not cast back (or that has no array type): the table is compared whole.
            if (!source.getAutoCommit()) throw e;
            return List.of();
        }
        return bounds;
    }
}
