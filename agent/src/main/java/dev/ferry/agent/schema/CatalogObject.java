package dev.ferry.agent.schema;

import dev.ferry.agent.name.QualifiedName;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A schema object named the way the target can find it: schema, owning table (or domain) and name, read from the
 * source catalog by the OID a dump's table of contents gives. Matching by name and table is what lets a rerun skip
 * what an earlier, interrupted run already built.
 *
 * @param table      the table (or domain, for a domain constraint) the object belongs to, null for schema-level objects
 * @param references for a foreign key, the table it points at
 */
record CatalogObject(long catalog, String kind, String schema, String table, String name, QualifiedName references) {

    /** Names of the given objects on the source, for the catalogs ferry knows how to check; others are absent from the map. */
    static Map<Long, CatalogObject> lookUp(Connection source, long catalog, Collection<Long> oids) throws SQLException {
        Map<Long, CatalogObject> found = new HashMap<>();
        String sql = NAMES.get(catalog);
        if (sql == null || oids.isEmpty()) return found;
        try (PreparedStatement ps = source.prepareStatement(sql)) {
            Array array = source.createArrayOf("int8", oids.toArray());
            ps.setArray(1, array);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String refSchema = rs.getString(6);
                    QualifiedName references = refSchema == null ? null : new QualifiedName(refSchema, rs.getString(7));
                    found.put(rs.getLong(1), new CatalogObject(catalog, rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), references));
                }
            }
        }
        return found;
    }

    /** Whether an object of the same kind, schema, table and name exists on the target. */
    boolean existsOn(Connection target) throws SQLException {
        String sql = catalog == TocEntry.PG_CONSTRAINT && "domain constraint".equals(kind) ? DOMAIN_CONSTRAINT_EXISTS : EXISTS.get(catalog);
        if (sql == null) throw new IllegalStateException("no existence check for catalog " + catalog);
        try (PreparedStatement ps = target.prepareStatement(sql)) {
            int i = 1;
            if (schema != null) ps.setString(i++, schema);
            if (table != null) ps.setString(i++, table);
            ps.setString(i, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** How a DBA would name it: {@code index "app"."orders_customer_idx"}, {@code constraint "orders_pkey" on "app"."orders"}. */
    @Override
    public String toString() {
        if (table != null) return kind + " " + QualifiedName.quote(name) + " on " + new QualifiedName(schema, table);
        if (schema != null) return kind + " " + new QualifiedName(schema, name);
        return kind + " " + QualifiedName.quote(name);
    }

    /**
     * Whether this is the {@code ON SELECT} rule that defines a view ({@code CREATE OR REPLACE VIEW} in a dump): a
     * view always has one, named {@code _RETURN}, and no other rule may take that name.
     */
    boolean isViewDefinition() {
        return catalog == TocEntry.PG_REWRITE && "_RETURN".equals(name);
    }

    /**
     * Whether this is a partition's clone of its partitioned table's trigger: pg_dump gives a clone an entry only when
     * its state differs from the parent's, and that entry only runs {@code ALTER TABLE ... ENABLE/DISABLE TRIGGER}.
     */
    boolean isTriggerClone() {
        return catalog == TocEntry.PG_TRIGGER && "partition trigger".equals(kind);
    }

    Optional<QualifiedName> referencedTable() { return Optional.ofNullable(references); }

    // Each query returns: oid, kind, schema, table, name, referenced schema, referenced table.
    private static final Map<Long, String> NAMES = Map.of(
            TocEntry.PG_CLASS, """
                    SELECT c.oid, CASE c.relkind WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                                  WHEN 'm' THEN 'materialized view' ELSE 'table' END, n.nspname, NULL, c.relname, NULL, NULL
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid::int8 = ANY (?)""",
            TocEntry.PG_CONSTRAINT, """
                    SELECT co.oid, CASE WHEN co.contypid <> 0 THEN 'domain constraint' WHEN co.contype = 'f' THEN 'foreign key' ELSE 'constraint' END,
                           n.nspname, coalesce(t.relname, ty.typname), co.conname, rn.nspname, r.relname
                    FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
                    LEFT JOIN pg_class t ON t.oid = co.conrelid LEFT JOIN pg_type ty ON ty.oid = co.contypid
                    LEFT JOIN pg_class r ON r.oid = co.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
                    WHERE co.oid::int8 = ANY (?)""",
            TocEntry.PG_TRIGGER, """
                    SELECT tg.oid, CASE WHEN tg.tgparentid <> 0 THEN 'partition trigger' ELSE 'trigger' END, n.nspname, c.relname, tg.tgname, NULL, NULL
                    FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE tg.oid::int8 = ANY (?)""",
            TocEntry.PG_REWRITE, """
                    SELECT r.oid, 'rule', n.nspname, c.relname, r.rulename, NULL, NULL
                    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE r.oid::int8 = ANY (?)""",
            TocEntry.PG_POLICY, """
                    SELECT p.oid, 'policy', n.nspname, c.relname, p.polname, NULL, NULL
                    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE p.oid::int8 = ANY (?)""",
            TocEntry.PG_STATISTIC_EXT, """
                    SELECT s.oid, 'statistics', n.nspname, NULL, s.stxname, NULL, NULL
                    FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid::int8 = ANY (?)""",
            TocEntry.PG_EXTENSION, """
                    SELECT e.oid, 'extension', NULL, NULL, e.extname, NULL, NULL FROM pg_extension e WHERE e.oid::int8 = ANY (?)""",
            TocEntry.PG_NAMESPACE, """
                    SELECT n.oid, 'schema', NULL, NULL, n.nspname, NULL, NULL FROM pg_namespace n WHERE n.oid::int8 = ANY (?)""");

    // Parameters: schema (if any), table (if any), name.
    private static final Map<Long, String> EXISTS = Map.of(
            TocEntry.PG_CLASS, "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?",
            TocEntry.PG_CONSTRAINT, """
                    SELECT 1 FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                    WHERE n.nspname = ? AND t.relname = ? AND co.conname = ?""",
            TocEntry.PG_TRIGGER, """
                    SELECT 1 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = ? AND c.relname = ? AND tg.tgname = ?""",
            TocEntry.PG_REWRITE, """
                    SELECT 1 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = ? AND c.relname = ? AND r.rulename = ?""",
            TocEntry.PG_POLICY, """
                    SELECT 1 FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = ? AND c.relname = ? AND p.polname = ?""",
            TocEntry.PG_STATISTIC_EXT, "SELECT 1 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE n.nspname = ? AND s.stxname = ?",
            TocEntry.PG_EXTENSION, "SELECT 1 FROM pg_extension WHERE extname = ?",
            TocEntry.PG_NAMESPACE, "SELECT 1 FROM pg_namespace WHERE nspname = ?");

    private static final String DOMAIN_CONSTRAINT_EXISTS = """
            SELECT 1 FROM pg_constraint co JOIN pg_type t ON t.oid = co.contypid JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = ? AND t.typname = ? AND co.conname = ?""";
}
