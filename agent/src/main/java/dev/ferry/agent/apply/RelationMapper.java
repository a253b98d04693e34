package dev.ferry.agent.apply;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.replication.pgoutput.Relation;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Matches a RELATION message to the target table: every column the source sends must exist on the target, otherwise
 * the schemas have drifted (DDL on the source) and applying would lose data. A column the source sends that is
 * generated on the target is drift too, unless the source sends its generated columns (PostgreSQL 18+): then the
 * target computes it.
 */
final class RelationMapper {
    private static final String TARGET_COLUMNS = """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', c.relkind = 'p'
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped""";

    /** Column sets of the target's unique indexes and exclusion constraints. */
    private static final String UNIQUE_INDEXES = """
            SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = ?::regclass AND (i.indisunique OR i.indisexclusion)
            GROUP BY i.indexrelid""";

    private final Connection target;
    private final boolean sourceSendsGenerated;
    private final SchemaMap schemaMap;
    private final RelationDrift drift;

    RelationMapper(Connection target, boolean sourceSendsGenerated, SchemaMap schemaMap, RelationDrift drift) {
        this.target = target;
        this.schemaMap = schemaMap;
        this.sourceSendsGenerated = sourceSendsGenerated;
        this.drift = drift;
    }

    TargetRelation map(Relation relation) throws SQLException {
        if (drift != null) drift.reconcile(relation); // columns the source added are added; other changes stop here with the SQL
        // The message names the source's relation; the target's may be in another schema (--schema-map).
        QualifiedName name = schemaMap.target(new QualifiedName(relation.namespace(), relation.name()));
        record TargetColumn(String type, boolean generated) {}
        Map<String, TargetColumn> targetColumns = new HashMap<>();
        boolean partitioned = false;
        try (PreparedStatement s = target.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            s.setString(1, name.toString());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new FerryException("the stream carries changes for " + name + ", which does not exist on the target.",
                            "the table was created or renamed on the source after the migration started, and ferry does not replicate DDL; or,"
                                    + " if it is a partition, the target is partitioned differently: ferry applies each partition's changes to the partition of the same name.",
                            "create the table on the target with the source's definition (pg_dump --schema-only -t " + name + "), then run `ferry run` again; or restart the migration.");
                }
            }
        }
        try (PreparedStatement s = target.prepareStatement(TARGET_COLUMNS)) {
            s.setString(1, name.toString());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    targetColumns.put(rs.getString(1), new TargetColumn(rs.getString(2), rs.getBoolean(3)));
                    partitioned = rs.getBoolean(4);
                }
            }
        }
        // A TimescaleDB hypertable keeps its rows in chunks, like a partitioned table: ctid alone is ambiguous, TRUNCATE
        // must reach the chunks.
        partitioned = partitioned || isHypertable(name);
        List<String> columns = new ArrayList<>();
        List<String> types = new ArrayList<>();
        List<Integer> key = new ArrayList<>();
        boolean full = relation.replicaIdentity() == 'f';
        boolean[] numeric = new boolean[relation.columns().size()];
        boolean[] generated = new boolean[relation.columns().size()];
        for (int i = 0; i < relation.columns().size(); i++) {
            Relation.Column column = relation.columns().get(i);
            TargetColumn match = targetColumns.get(column.name());
            if (match == null || (match.generated() && !sourceSendsGenerated)) {
                throw new FerryException("the source's table " + name + " has column " + QualifiedName.quote(column.name())
                        + (match == null ? ", which the target table lacks." : ", which is a generated column on the target."),
                        "the table's definition changed on the source after the migration started (ferry does not replicate DDL), so these changes cannot be applied without losing data.",
                        "apply the same ALTER TABLE on the target, e.g. ALTER TABLE " + name + " ADD COLUMN " + QualifiedName.quote(column.name())
                                + " <type>; then run `ferry run` again: it resumes from the last applied transaction.");
            }
            columns.add(column.name());
            types.add(match.type());
            numeric[i] = match.type().startsWith("numeric");
            generated[i] = match.generated();
            if (generated[i] && column.partOfKey() && !full) {
                throw new FerryException("the key of " + name + " holds the generated column " + QualifiedName.quote(column.name()) + ".",
                        "ferry writes rows without their generated columns (the target computes them), so it cannot match or upsert rows on such a key.",
                        "on the source: ALTER TABLE " + name + " REPLICA IDENTITY FULL; (or a replica identity index without generated columns), then restart the migration.");
            }
            if (column.partOfKey() && !full) key.add(i);
        }
        java.util.Set<String> keyColumns = new java.util.TreeSet<>();
        for (int k : key) keyColumns.add(columns.get(k));
        boolean coalescible = !key.isEmpty() && onlyUniqueConstraintIs(name, keyColumns);
        return new TargetRelation(name, columns, types, key.stream().mapToInt(Integer::intValue).toArray(), full, numeric, generated, partitioned, coalescible);
    }

    private boolean isHypertable(QualifiedName name) throws SQLException {
        try (PreparedStatement s = target.prepareStatement("SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL");
             ResultSet rs = s.executeQuery()) {
            rs.next();
            if (!rs.getBoolean(1)) return false;
        }
        try (PreparedStatement s = target.prepareStatement("SELECT 1 FROM _timescaledb_catalog.hypertable WHERE schema_name = ? AND table_name = ?")) {
            s.setString(1, name.schema());
            s.setString(2, name.name());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    private boolean onlyUniqueConstraintIs(QualifiedName name, java.util.Set<String> keyColumns) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(UNIQUE_INDEXES)) {
            s.setString(1, name.toString());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    java.util.Set<String> columns = new java.util.TreeSet<>(java.util.Arrays.asList((String[]) rs.getArray(1).getArray()));
                    if (!columns.equals(keyColumns)) return false;
                }
            }
        }
        return true;
    }
}
