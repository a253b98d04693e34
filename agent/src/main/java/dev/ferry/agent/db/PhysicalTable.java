package dev.ferry.agent.db;

import java.util.List;
import java.util.Set;

/**
 * A table that holds rows on disk (a plain table or a leaf partition), as the copy sees it.
 *
 * @param columns        the columns to copy, in order: generated columns are left out, the target computes them
 * @param numericColumns those of {@code columns} of type numeric, which may hold NaN or Infinity
 * @param sizeBytes      main fork size at planning time, used to split big tables into page ranges
 */
public record PhysicalTable(QualifiedName name, List<String> columns, Set<String> numericColumns, long sizeBytes) {
    public PhysicalTable {
        columns = List.copyOf(columns);
        numericColumns = Set.copyOf(numericColumns);
    }

    /** The column list as SQL: {@code "a", "b"}. */
    public String columnList() {
        StringBuilder sql = new StringBuilder();
        for (String column : columns) {
            if (sql.length() > 0) sql.append(", ");
            sql.append(QualifiedName.quote(column));
        }
        return sql.toString();
    }
}
