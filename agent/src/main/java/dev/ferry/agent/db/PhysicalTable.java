package dev.ferry.agent.db;

import dev.ferry.agent.name.QualifiedName;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A table that holds rows on disk (a plain table or a leaf partition), as the copy sees it.
 *
 * @param columns        the columns to copy, in order: generated columns are left out, the target computes them
 * @param numericColumns those of {@code columns} of type numeric, which may hold NaN or Infinity
 * @param heapBytes      main fork size at planning time: how many pages a split into page ranges covers
 * @param dataBytes      main fork plus TOAST at planning time: how much there is to copy. A table of big text or
 *                       jsonb values keeps most of its data in TOAST, behind a small main fork.
 * @param builtinTypes   every column has a type built into PostgreSQL (no extension or user-defined type, domain,
 *                       enum or composite), whose binary COPY form is the same on two servers of one major version
 * @param hypertable     a TimescaleDB hypertable: its rows live in chunk tables, so it is read whole (without ONLY,
 *                       compressed chunks come back decompressed) and written into the target's hypertable, which
 *                       routes them into chunks of its own; never split into page ranges nor loaded with FREEZE
 * @param timeRanges     for a hypertable, where its chunks begin in its first (time) dimension: the copy splits it
 *                       there, a chunk (or a few) per unit; empty when it is not split
 */
public record PhysicalTable(QualifiedName name, List<String> columns, Set<String> numericColumns, long heapBytes, long dataBytes,
                            boolean builtinTypes, boolean hypertable, Optional<TimeRanges> timeRanges) {
    public PhysicalTable {
        columns = List.copyOf(columns);
        numericColumns = Set.copyOf(numericColumns);
    }

    /**
     * A column and the boundaries that cut it into consecutive ranges, as SQL literals in order: range 0 is below the
     * first boundary, the last is from the last boundary up, so together they hold every row exactly once.
     */
    public record TimeRanges(String column, List<String> boundaries) {
        public TimeRanges {
            boundaries = List.copyOf(boundaries);
        }

        /** How many ranges the boundaries make. */
        public int count() {
            return boundaries.size() + 1;
        }

        /** The WHERE clause of range {@code index} of {@link #count()}. */
        public String filter(int index) {
            String quoted = QualifiedName.quote(column);
            String lower = lower(index).map(b -> quoted + " >= " + b).orElse(null);
            String upper = upper(index).map(b -> quoted + " < " + b).orElse(null);
            return " WHERE " + (lower == null ? upper : upper == null ? lower : lower + " AND " + upper);
        }

        /** The literal range {@code index} starts at; empty for the first, open below. */
        public Optional<String> lower(int index) {
            return index == 0 ? Optional.empty() : Optional.of(boundaries.get(index - 1));
        }

        /** The literal range {@code index} ends before; empty for the last, open above. */
        public Optional<String> upper(int index) {
            return index == boundaries.size() ? Optional.empty() : Optional.of(boundaries.get(index));
        }
    }

    /** A hypertable or not, not split. */
    public PhysicalTable(QualifiedName name, List<String> columns, Set<String> numericColumns, long heapBytes, long dataBytes, boolean builtinTypes,
                         boolean hypertable) {
        this(name, columns, numericColumns, heapBytes, dataBytes, builtinTypes, hypertable, Optional.empty());
    }

    /** A plain table or leaf partition. */
    public PhysicalTable(QualifiedName name, List<String> columns, Set<String> numericColumns, long heapBytes, long dataBytes, boolean builtinTypes) {
        this(name, columns, numericColumns, heapBytes, dataBytes, builtinTypes, false);
    }

    /** {@code ONLY t} for a table that holds its own rows, {@code t} for a hypertable, whose rows are in its chunks. */
    public String readFrom() {
        return (hypertable ? "" : "ONLY ") + name;
    }

    /**
     * The column list of a COPY of this table: {@code  ("a", "b")}, or nothing for a table with no column to copy (only
     * generated columns, or none at all). Such a table still holds rows, which COPY carries as empty lines; it takes no
     * empty list, and without one it takes the columns that are neither generated nor dropped: none, here.
     */
    public String copyColumns() {
        if (columns.isEmpty()) return "";
        StringBuilder sql = new StringBuilder(" (");
        for (String column : columns) {
            if (sql.length() > 2) sql.append(", ");
            sql.append(QualifiedName.quote(column));
        }
        return sql.append(')').toString();
    }
}
