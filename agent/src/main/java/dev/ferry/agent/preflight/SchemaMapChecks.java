package dev.ferry.agent.preflight;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.name.QualifiedName;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.column;
import static dev.ferry.agent.preflight.PreflightContext.number;
import static dev.ferry.agent.preflight.PreflightContext.value;

/**
 * Whether this migration can share its target database with others (--migration) and rename schemas on the way
 * (--schema-map): every target schema it writes into is its own, and nothing it copies would collide with another
 * source merged into the same database. Runs no check for a plain migration into an empty database of its own.
 */
final class SchemaMapChecks implements CheckFamily {
    /** The source's application schemas: not the system's, TimescaleDB's, ferry's, or an extension's own. */
    private static final String SOURCE_SCHEMAS = """
            SELECT n.nspname FROM pg_namespace n
            WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname !~ '^_?timescaledb'
              AND n.nspname <> 'ferry' AND n.nspname !~ '^ferry_'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
            ORDER BY 1""";

    /** Objects in schema ? that no extension owns: relations, functions, types other than rows and arrays. */
    private static final String OBJECTS_IN = """
            SELECT kind || ' ' || name FROM (
                SELECT 'relation' AS kind, format('%I.%I', n.nspname, c.relname) AS name, 'pg_class'::regclass AS catalog, c.oid
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ?
                UNION ALL SELECT 'function', p.oid::regprocedure::text, 'pg_proc'::regclass, p.oid
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ?
                UNION ALL SELECT 'type', format('%I.%I', n.nspname, t.typname), 'pg_type'::regclass, t.oid
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = ? AND t.typtype IN ('e', 'd', 'r', 'm') OR (n.nspname = ? AND t.typtype = 'c'
                      AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')) o
            WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.catalog AND d.objid = o.oid AND d.deptype = 'e')
            ORDER BY 1 LIMIT 6""";

    /**
     * Functions whose body is a string (PL/pgSQL, SQL without BEGIN ATOMIC) or whose SET search_path names a mapped
     * schema: the rename changes what the catalog stores as references, never the text of a body or a setting.
     */
    private static final String FUNCTIONS_NAMING = """
            SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
              AND ((to_jsonb(p)->>'prosqlbody' IS NULL AND p.prolang NOT IN (SELECT oid FROM pg_language WHERE lanname IN ('c', 'internal')) AND p.prosrc ~* ('(^|[^a-z0-9_$])"?' || ? || '"?\\s*\\.'))
                   OR array_to_string(p.proconfig, ' ') ~* ('search_path=.*\\m' || ? || '\\M'))
            ORDER BY 1""";

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        SchemaMap map = c.config.schemaMap();
        if (map.isEmpty() && c.config.migration().isEmpty()) return List.of();
        List<CheckResult> results = new ArrayList<>();
        List<String> sourceSchemas = column(c.source, SOURCE_SCHEMAS);
        if (!map.isEmpty()) results.add(mapFitsSource(map, sourceSchemas));
        // Only the schemas the table filter takes are written into on the target (--include-schema, --exclude-schema).
        results.add(targetSchemasFree(c, map, sourceSchemas.stream().filter(c.config.tables()::migratesSchema).toList()));
        if (map.isEmpty()) return results;

        long largeObjects = number(c.source, "SELECT count(*) FROM pg_largeobject_metadata");
        results.add(largeObjects == 0 ? pass("schema-map-large-objects", "the source has no large objects")
                : fail("schema-map-large-objects", "the source has " + largeObjects + " large objects, and --schema-map is given",
                "large objects belong to no schema: their OIDs are database-wide, so two sources merged into one target collide, and"
                        + " the columns referring to them would point at the other source's.",
                "migrate this database without --schema-map into a database of its own, or move the large objects into bytea columns first."));
        boolean hypertables = value(c.source, "SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL").orElse("f").equals("t")
                && number(c.source, "SELECT count(*) FROM _timescaledb_catalog.hypertable") > 0;
        results.add(!hypertables ? pass("schema-map-timescaledb", "the source has no TimescaleDB hypertables")
                : fail("schema-map-timescaledb", "the source has TimescaleDB hypertables, and --schema-map is given",
                "ferry makes hypertables, their jobs and continuous aggregates on the target from TimescaleDB's catalog, by the source's schema names.",
                "migrate this database without --schema-map."));
        boolean mayCreateDatabase = value(c.target, "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user").orElse("f").equals("t");
        results.add(mayCreateDatabase ? pass("schema-map-scratch", "role " + c.config.target().user() + " may create the scratch database the schemas are renamed in")
                : fail("schema-map-scratch", "role " + c.config.target().user() + " may not create databases on the target",
                "ferry renames the schemas in a scratch database on the target server (restored from the source's schema, renamed there, dumped"
                        + " again, dropped), so that every reference the catalog stores follows the rename.",
                "on the target: ALTER ROLE \"" + c.config.target().user() + "\" CREATEDB;"));
        results.add(functionsNaming(c, map));
        return results;
    }

    /** Every mapped schema must exist on the source, and no target name may be an unmapped source schema's. */
    private static CheckResult mapFitsSource(SchemaMap map, List<String> sourceSchemas) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> rename : map.renames().entrySet()) {
            if (!sourceSchemas.contains(rename.getKey())) problems.add("schema " + QualifiedName.quote(rename.getKey()) + " is not on the source");
            if (sourceSchemas.contains(rename.getValue()) && !map.renames().containsKey(rename.getValue())) {
                problems.add("the source's own schema " + QualifiedName.quote(rename.getValue()) + " would land in the same target schema as "
                        + QualifiedName.quote(rename.getKey()));
            }
        }
        List<String> unmapped = sourceSchemas.stream().filter(schema -> !map.renames().containsKey(schema)).map(QualifiedName::quote).toList();
        if (problems.isEmpty() && !unmapped.isEmpty()) {
            return warn("schema-map", "schemas renamed on the target: " + map + "; the source's schemas " + String.join(", ", unmapped) + " keep their names",
                    "another source merged into the same target database must not have schemas of these names, or the two would restore into the same schemas.",
                    "map them too (--schema-map SRC=DST) if another source has schemas of the same names.");
        }
        return problems.isEmpty() ? pass("schema-map", "schemas renamed on the target: " + map)
                : fail("schema-map", "--schema-map " + map + " does not fit the source: " + String.join("; ", problems),
                "a map must name schemas the source has, and give each one a target schema no other source schema lands in.",
                "correct the --schema-map (schema names are case-sensitive, as the catalog spells them), or map that source schema too.");
    }

    /** Each target schema this migration writes must be absent or hold nothing but an extension's objects. */
    private static CheckResult targetSchemasFree(PreflightContext c, SchemaMap map, List<String> sourceSchemas) throws SQLException {
        String stateSchema = c.config.stateSchema();
        boolean resuming = value(c.target, "SELECT to_regclass(?) IS NOT NULL", stateSchema + ".migration").orElse("f").equals("t");
        Set<String> written = new LinkedHashSet<>();
        for (String schema : sourceSchemas) written.add(map.target(schema));
        if (resuming) return pass("target-schemas", "the target holds this migration's state (schema " + stateSchema + "); its schemas " + written + " are its own");
        List<String> inUse = new ArrayList<>();
        for (String schema : written) {
            List<String> objects = column(c.target, OBJECTS_IN, schema, schema, schema, schema);
            if (!objects.isEmpty()) inUse.add("schema " + QualifiedName.quote(schema) + " holds " + String.join(", ", objects.subList(0, Math.min(5, objects.size())))
                    + (objects.size() > 5 ? ", ..." : ""));
        }
        return inUse.isEmpty() ? pass("target-schemas", "the target schemas this migration writes into are empty or absent: " + written)
                : fail("target-schemas", "target schemas this migration would write into are in use: " + String.join("; ", inUse),
                "they belong to someone else (another source merged into this database, or the application): ferry would restore its objects over"
                        + " theirs, or fail half-way.",
                "map the source's schemas to new names with --schema-map SRC=DST (one --migration NAME per source database), or drop what is there if it is a leftover.");
    }

    private static CheckResult functionsNaming(PreflightContext c, SchemaMap map) throws SQLException {
        Set<String> functions = new LinkedHashSet<>();
        for (String schema : map.renames().keySet()) {
            String pattern = schema.replaceAll("[^A-Za-z0-9_]", "\\\\$0");
            functions.addAll(column(c.source, FUNCTIONS_NAMING, pattern, pattern));
        }
        if (functions.isEmpty()) return pass("schema-map-functions", "no function body or search_path setting names a renamed schema");
        return warn("schema-map-functions", functions.size() + " functions name a renamed schema in their body or SET search_path: "
                        + String.join(", ", functions.stream().limit(10).toList()) + (functions.size() > 10 ? ", ..." : ""),
                "a function body is a string and a setting is text: the rename moves the functions, but what their text names stays as written,"
                        + " so on the target they would reach the old schema's name (absent, or another source's).",
                "after the schema copy, on the target, CREATE OR REPLACE these functions with the new schema name; or write their bodies without the"
                        + " schema name (search_path) or as SQL-standard bodies (BEGIN ATOMIC, PostgreSQL 14+), which follow the rename.");
    }
}
