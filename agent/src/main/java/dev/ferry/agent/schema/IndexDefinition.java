package dev.ferry.agent.schema;

import dev.ferry.agent.db.QualifiedName;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * One index of a source table as the target can rebuild it: {@code pg_get_indexdef} read with an empty search_path,
 * so every name in it is schema-qualified, and for a primary key or unique constraint the clause that turns the
 * built index into that constraint. Exclusion constraints cannot be attached to an existing index, and indexes
 * of partitioned tables need their partitions' first; both are left to post-data.
 */
record IndexDefinition(QualifiedName table, String name, String createIndex, String constraintClause) {
    private static final String OF_TABLE = """
            SELECT ic.relname, pg_get_indexdef(i.indexrelid), co.contype, co.condeferrable, co.condeferred
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')
            WHERE n.nspname = ? AND t.relname = ? AND t.relkind = 'r' AND i.indisvalid AND coalesce(co.contype, '') <> 'x'
            ORDER BY pg_relation_size(i.indexrelid) DESC""";

    /** The table's indexes on the source, biggest first. {@code source} must have an empty search_path. */
    static List<IndexDefinition> of(Connection source, QualifiedName table) throws SQLException {
        List<IndexDefinition> found = new ArrayList<>();
        try (PreparedStatement ps = source.prepareStatement(OF_TABLE)) {
            ps.setString(1, table.schema());
            ps.setString(2, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String contype = rs.getString(3);
                    String clause = null;
                    if (contype != null) {
                        clause = ("p".equals(contype) ? "PRIMARY KEY" : "UNIQUE") + " USING INDEX " + QualifiedName.quote(rs.getString(1))
                                + (rs.getBoolean(4) ? " DEFERRABLE" : "") + (rs.getBoolean(5) ? " INITIALLY DEFERRED" : "");
                    }
                    found.add(new IndexDefinition(table, rs.getString(1), rs.getString(2), clause));
                }
            }
        }
        return found;
    }

    /** The statement that makes the built index the table's constraint, or none for a plain index. */
    String addConstraint() {
        return constraintClause == null ? null
                : "ALTER TABLE ONLY " + table + " ADD CONSTRAINT " + QualifiedName.quote(name) + " " + constraintClause;
    }

    @Override
    public String toString() {
        return (constraintClause == null ? "index " : "constraint ") + QualifiedName.quote(name) + " on " + table;
    }
}
