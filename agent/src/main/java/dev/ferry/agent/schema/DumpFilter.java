package dev.ferry.agent.schema;

import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The table filter as pg_dump options, resolved against the source's catalog into exact, quoted names: ferry's
 * patterns are not pg_dump's (a table pattern without a schema matches in every schema here, only on the search_path
 * there), and pg_dump's --table and --schema would drop every object that is not a table, and extensions. So only
 * exclusions are passed: --exclude-schema for a schema left out (with its functions, types and views), unless an
 * extension lives in it, and --exclude-table for each table left out, and for each view or materialized view that
 * reads one, which could not be restored without it.
 */
final class DumpFilter {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    private static final String USER_SCHEMAS = """
            SELECT n.nspname, EXISTS (SELECT 1 FROM pg_extension e WHERE e.extnamespace = n.oid)
            FROM pg_namespace n
            WHERE n.nspname NOT IN ('information_schema', 'ferry') AND n.nspname !~ '^pg_' AND n.nspname !~ '^_?timescaledb'
            ORDER BY 1""";

    private static final String TABLES = """
            SELECT c.oid, n.nspname, c.relname, coalesce(rn.nspname, n.nspname), coalesce(r.relname, c.relname)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
            LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
            WHERE c.relkind IN ('r', 'p', 'f')
              AND n.nspname NOT IN ('information_schema', 'ferry') AND n.nspname !~ '^pg_' AND n.nspname !~ '^_?timescaledb'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 2, 3""";

    /** Views and materialized views that read the given relations, directly or through other views. */
    private static final String DEPENDENT_VIEWS = """
            WITH RECURSIVE dependent(oid) AS (
                SELECT unnest(?::oid[])
                UNION
                SELECT r.ev_class FROM pg_depend d
                JOIN pg_rewrite r ON r.oid = d.objid
                JOIN dependent x ON x.oid = d.refobjid
                WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND r.ev_class <> d.refobjid)
            SELECT n.nspname, c.relname, CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END
            FROM dependent x JOIN pg_class c ON c.oid = x.oid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm')
            ORDER BY 1, 2""";

    private DumpFilter() {}

    /** The pg_dump options that leave out what {@code filter} leaves out; none for an empty filter. Logs a WARN per view left out. */
    static List<String> options(Connection source, TableFilter filter) throws SQLException {
        if (filter.isEmpty()) return List.of();
        List<String> options = new ArrayList<>();
        List<String> wholeSchemasOut = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(USER_SCHEMAS)) {
            while (rs.next()) {
                String schema = rs.getString(1);
                if (filter.migratesSchema(schema)) continue;
                if (rs.getBoolean(2)) {
                    // CREATE EXTENSION ... SCHEMA x would fail without schema x; its other objects come along, its tables do not.
                    log.info("schema: schema {} is not in the migration, but an extension lives in it: its functions and types are copied, its tables are not",
                            QualifiedName.quote(schema));
                    continue;
                }
                wholeSchemasOut.add(schema);
                options.add("--exclude-schema=" + QualifiedName.quote(schema)); // quoted: a literal pattern
            }
        }
        List<Long> leftOut = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(TABLES)) {
            while (rs.next()) {
                QualifiedName table = new QualifiedName(rs.getString(2), rs.getString(3));
                if (filter.migrates(table, new QualifiedName(rs.getString(4), rs.getString(5)))) continue;
                leftOut.add(rs.getLong(1));
                if (!wholeSchemasOut.contains(table.schema())) options.add("--exclude-table=" + table);
            }
        }
        if (leftOut.isEmpty()) return options;
        try (PreparedStatement s = source.prepareStatement(DEPENDENT_VIEWS)) {
            s.setArray(1, source.createArrayOf("oid", leftOut.toArray()));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    QualifiedName view = new QualifiedName(rs.getString(1), rs.getString(2));
                    if (wholeSchemasOut.contains(view.schema())) continue;
                    log.warn("schema: {} {} is not copied: it reads a table the filter leaves out.\n  why:  it cannot be created on the target without that table."
                                    + "\n  fix:  include the tables it reads, or create the {} on the target yourself after the cutover.",
                            rs.getString(3), view, rs.getString(3));
                    options.add("--exclude-table=" + view);
                }
            }
        }
        return options;
    }
}
