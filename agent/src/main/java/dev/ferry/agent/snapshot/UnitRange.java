package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.PhysicalTable;

import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * A hypertable copy unit's time range for catalog queries about its chunks: its bounds as parameters, NULL when open,
 * compared with TimescaleDB's internal int64 of a slice's range ({@link #LOWER}, {@link #UPPER}). With the bounds as
 * parameters a query's text is the same for every unit of a hypertable, so each connection plans it once: planned per
 * unit, the catalog queries about the units' chunks cost the source about 0.8 CPU-s of the bench's timescale copy.
 * Built from the boundaries {@code SourceCatalog} writes ({@code '2025-01-02 00:00:00+00'::timestamptz}, or a bare
 * integer).
 */
record UnitRange(String type, String lower, String upper) {
    /** The internal value of the range's lower bound, or the lowest there is; {@code %1$s}: the bounds' type. */
    static final String LOWER = "coalesce(_timescaledb_functions.time_to_internal(CAST(? AS %1$s)), -9223372036854775808)";
    /** The internal value of the range's upper bound, or the highest there is. */
    static final String UPPER = "coalesce(_timescaledb_functions.time_to_internal(CAST(? AS %1$s)), 9223372036854775807)";

    static UnitRange of(CopyChunk unit) {
        PhysicalTable table = unit.table();
        if (unit.count() < 2 || table.timeRanges().isEmpty()) return new UnitRange("bigint", null, null);
        PhysicalTable.TimeRanges ranges = table.timeRanges().get();
        String[] lower = split(ranges.lower(unit.index()).orElse(null)), upper = split(ranges.upper(unit.index()).orElse(null));
        return new UnitRange(lower[0] != null ? lower[0] : upper[0] != null ? upper[0] : "bigint", lower[1], upper[1]);
    }

    /** {@code sql} with {@code %1$s} (in {@link #LOWER} and {@link #UPPER}) replaced by the bounds' type. */
    String render(String sql) {
        return sql.replace("%1$s", type);
    }

    void bindLower(PreparedStatement s, int index) throws SQLException {
        s.setString(index, lower);
    }

    void bindUpper(PreparedStatement s, int index) throws SQLException {
        s.setString(index, upper);
    }

    /** A boundary literal as its type and its value; both null for none. */
    private static String[] split(String literal) {
        if (literal == null) return new String[] {null, null};
        int cast = literal.lastIndexOf("::");
        if (cast < 0 || !literal.startsWith("'")) return new String[] {"bigint", literal};
        String quoted = literal.substring(0, cast);
        return new String[] {literal.substring(cast + 2), quoted.substring(1, quoted.length() - 1).replace("''", "'")};
    }
}
