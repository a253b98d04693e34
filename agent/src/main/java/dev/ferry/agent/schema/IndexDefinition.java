package dev.ferry.agent.schema;

import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One index of a source table as the target can rebuild it: {@code pg_get_indexdef} read with an empty search_path,
 * so every name in it is schema-qualified, and for a primary key or unique constraint the clause that turns the
 * built index into that constraint. Exclusion constraints cannot be attached to an existing index, and indexes
 * of partitioned tables need their partitions' first; both are left to post-data. {@code sourceBytes} is the index's
 * size on the source, which tells how much memory its build wants.
 */
record IndexDefinition(QualifiedName table, String name, String createIndex, String constraintClause, String constraintDefinition, long sourceBytes) {
    private static final String ALL = """
            SELECT n.nspname, t.relname, ic.relname, pg_get_indexdef(i.indexrelid), co.contype, co.condeferrable, co.condeferred,
                   pg_relation_size(i.indexrelid), pg_get_constraintdef(co.oid)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')
            WHERE t.relkind = 'r' AND i.indisvalid AND coalesce(co.contype, '') <> 'x'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            ORDER BY 8 DESC""";

    /**
     * Every table's indexes on the source, biggest first, read in one query. {@code source} must have an empty
     * search_path.
     */
    static Map<QualifiedName, List<IndexDefinition>> all(Connection source) throws SQLException {
        Map<QualifiedName, List<IndexDefinition>> byTable = new HashMap<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(ALL)) {
            while (rs.next()) {
                QualifiedName table = new QualifiedName(rs.getString(1), rs.getString(2));
                String contype = rs.getString(5);
                String clause = null;
                if (contype != null) {
                    clause = ("p".equals(contype) ? "PRIMARY KEY" : "UNIQUE") + " USING INDEX " + QualifiedName.quote(rs.getString(3))
                            + (rs.getBoolean(6) ? " DEFERRABLE" : "") + (rs.getBoolean(7) ? " INITIALLY DEFERRED" : "");
                }
                byTable.computeIfAbsent(table, k -> new ArrayList<>()).add(new IndexDefinition(table, rs.getString(3), rs.getString(4), clause, rs.getString(9), rs.getLong(8)));
            }
        }
        return byTable;
    }

    /** The statement that makes the built index the table's constraint, or none for a plain index. */
    String addConstraint() {
        return constraintClause == null ? null
                : "ALTER TABLE ONLY " + table + " ADD CONSTRAINT " + QualifiedName.quote(name) + " " + constraintClause;
    }

    /**
     * The statement that creates the constraint on a TimescaleDB hypertable, index included: TimescaleDB refuses
     * {@code ONLY} and builds the index on every chunk itself.
     */
    String addHypertableConstraint() {
        return "ALTER TABLE " + table + " ADD CONSTRAINT " + QualifiedName.quote(name) + " " + constraintDefinition;
    }

    @Override
    public String toString() {
        return (constraintClause == null ? "index " : "constraint ") + QualifiedName.quote(name) + " on " + table;
    }
}
