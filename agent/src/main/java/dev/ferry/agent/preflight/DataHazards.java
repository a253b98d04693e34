package dev.ferry.agent.preflight;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;

import dev.ferry.agent.logging.Units;

import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.column;
import static dev.ferry.agent.preflight.PreflightContext.number;

/** Data that logical replication cannot carry, or that the target cannot store. */
final class DataHazards implements CheckFamily {
    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<CheckResult> results = new ArrayList<>();
        long largeObjects = number(c.source, "SELECT count(*) FROM pg_largeobject_metadata");
        long largeObjectBytes = number(c.source, "SELECT pg_total_relation_size('pg_largeobject')");
        results.add(largeObjects == 0
                ? pass("large-objects", "no large objects")
                : warn("large-objects", largeObjects + " large objects (pg_largeobject, " + Units.bytes(largeObjectBytes)
                                + " on disk) are copied after the tables and compared again at the cutover",
                "logical replication does not carry large objects, so the cutover reads every one of them on both sides and copies"
                        + " those that changed: expect the cutover to take about as long as reading that much twice.",
                "nothing, if that fits your downtime; otherwise store the data as bytea, which is replicated."));

        List<String> unlogged = column(c.source, """
                SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' ORDER BY 1""");
        results.add(unlogged.isEmpty()
                ? pass("unlogged-tables", "no unlogged tables")
                : warn("unlogged-tables", "unlogged tables are not migrated: " + String.join(", ", unlogged),
                "unlogged tables are not written to WAL, so neither a slot nor a publication can follow them; their schema is copied, not their rows.",
                unlogged.stream().map(t -> "ALTER TABLE " + t + " SET LOGGED;").reduce((a, b) -> a + "\n" + b).orElse("")
                        + "\n(rewrites each table) or accept that they arrive empty."));

        List<String> generated = column(c.source, """
                SELECT DISTINCT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.attgenerated <> '' AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1""");
        // A key ferry cannot follow: before PostgreSQL 18 pgoutput leaves the generated column out of the key it sends
        // (the target's ON CONFLICT would name no unique index), from 18 ferry sends it but writes no generated value.
        List<String> generatedKeys = column(c.source, """
                SELECT DISTINCT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index i ON i.indrelid = c.oid
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
                WHERE a.attgenerated <> '' AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND ((c.relreplident = 'd' AND i.indisprimary AND i.indimmediate) OR (c.relreplident = 'i' AND i.indisreplident)) ORDER BY 1""");
        if (!generatedKeys.isEmpty()) {
            results.add(fail("generated-columns", "the primary key or replica identity index of " + String.join(", ", generatedKeys) + " holds a generated column",
                    "ferry leaves generated columns to the target to compute and finds rows by their key, so it cannot follow changes keyed on one: the stream would stop at the table's first change.",
                    generatedKeys.stream().map(t -> "ALTER TABLE " + t + " REPLICA IDENTITY FULL;").reduce((a, b) -> a + "\n" + b).orElse("")
                            + "\n(rows are then found by all their other values), or --exclude-table the table."));
        } else {
            results.add(pass("generated-columns", generated.isEmpty() ? "no generated columns"
                    : "generated columns in " + String.join(", ", generated) + " are handled: ferry leaves them out of the copy and the stream, and the target computes them"));
        }

        results.add(numericInfinity(c));

        List<String> eventTriggers = column(c.source, "SELECT evtname FROM pg_event_trigger e WHERE NOT EXISTS (SELECT 1 FROM pg_depend d"
                + " WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.deptype = 'e') ORDER BY 1");
        results.add(warn("ddl", eventTriggers.isEmpty() ? "DDL during the migration is not replicated"
                        : "DDL during the migration is not replicated, and event triggers " + String.join(", ", eventTriggers) + " are not copied",
                "a table created or altered on the source after the start is not followed; an altered column stops the stream with a message naming it.",
                "freeze schema changes until the cutover; if one happens, apply the same DDL on the target and run `ferry run` again."
                        + (eventTriggers.isEmpty() ? "" : " Recreate the event triggers on the target after the cutover.")));

        return results;
    }

    /** Numeric Infinity exists from PostgreSQL 14; an older target rejects it, NaN it stores. */
    private static CheckResult numericInfinity(PreflightContext c) throws SQLException {
        if (c.targetMajor >= 14 || c.sourceMajor < 14) {
            return pass("numeric-infinity", "the target can store every numeric value the source can hold");
        }
        if (c.config.numericNanInf() == MigrationConfig.NumericNanInf.NULL) {
            return pass("numeric-infinity", "--numeric-nan-inf null: NaN and Infinity in numeric columns become NULL on the PostgreSQL " + c.targetMajor + " target, counted per table");
        }
        List<String> found = new ArrayList<>();
        boolean anyNumeric = false;
        for (var table : c.tables) {
            for (PhysicalTable leaf : table.physical()) {
                for (String column : leaf.numericColumns()) {
                    anyNumeric = true;
                    if (hasInfinity(c, leaf.name(), column)) found.add(leaf.name() + "." + QualifiedName.quote(column));
                }
            }
        }
        String fix = "run with --numeric-nan-inf null (writes NULL and counts them per table), or migrate to PostgreSQL 14 or newer.";
        if (!found.isEmpty()) {
            return fail("numeric-infinity", "numeric Infinity values in " + String.join(", ", found) + " cannot be stored on the PostgreSQL " + c.targetMajor + " target",
                    "numeric Infinity exists from PostgreSQL 14 on; the copy would stop at the first one.", fix);
        }
        return anyNumeric
                ? warn("numeric-infinity", "no numeric Infinity on the source now, but the PostgreSQL " + c.targetMajor + " target could not store one written later",
                "the stream would stop at the first numeric Infinity the application writes.", fix)
                : pass("numeric-infinity", "no numeric columns");
    }

    private static boolean hasInfinity(PreflightContext c, QualifiedName table, String column) throws SQLException {
        try (Statement s = c.source.createStatement()) {
            s.execute("SET statement_timeout = '10s'");
            try {
                return s.executeQuery("SELECT 1 FROM ONLY " + table + " WHERE " + QualifiedName.quote(column) + " IN ('Infinity', '-Infinity') LIMIT 1").next();
            } catch (SQLException timeout) {
                return false; // too big to scan quickly: the WARN below still applies
            } finally {
                s.execute("RESET statement_timeout");
            }
        }
    }
}
