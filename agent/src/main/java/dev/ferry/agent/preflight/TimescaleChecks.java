package dev.ferry.agent.preflight;

import dev.ferry.agent.db.TimescalePolicies;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.column;
import static dev.ferry.agent.preflight.PreflightContext.hasExtension;
import static dev.ferry.agent.preflight.PreflightContext.number;
import static dev.ferry.agent.preflight.PreflightContext.value;

/** The TimescaleDB hazards of the field's FAQ; runs only when the source has the extension. */
final class TimescaleChecks implements CheckFamily {
    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        if (!hasExtension(c.source, "timescaledb")) return List.of();
        List<CheckResult> results = new ArrayList<>();
        results.add(hypertables(c));
        results.add(version(c));
        Optional<String> targetSchema = value(c.target, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'");
        String sourceSchema = value(c.source, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'").orElse("public");
        if (targetSchema.isPresent() && !targetSchema.get().equals("public")) {
            results.add(fail("timescaledb-schema", "TimescaleDB is installed in schema " + targetSchema.get() + " on the target",
                    "managed TimescaleDB services support the extension only in schema public.",
                    "on the target: DROP EXTENSION timescaledb; CREATE EXTENSION timescaledb SCHEMA public;"));
        } else if (!sourceSchema.equals("public") && targetSchema.isEmpty()) {
            results.add(fail("timescaledb-schema", "TimescaleDB is installed in schema " + sourceSchema + " on the source and not yet on the target",
                    "the schema copy would create it on the target in " + sourceSchema + " as well, where ferry does not look for TimescaleDB's"
                            + " functions (it calls public.create_hypertable, public.compress_chunk, ...), and managed services allow only public.",
                    "on the target: CREATE EXTENSION timescaledb SCHEMA public; (the schema copy keeps an extension the target has);"
                            + " then change the application's calls qualified with " + sourceSchema + " (" + sourceSchema + ".time_bucket), and run `ferry preflight` again."));
        } else if (!sourceSchema.equals("public")) {
            results.add(warn("timescaledb-schema", "TimescaleDB is installed in schema " + sourceSchema + " on the source",
                    "the target will have it in public; functions called with the schema name (" + sourceSchema + ".time_bucket) must be changed.",
                    "move it on the source before migrating, or adjust the application's qualified calls."));
        } else {
            results.add(pass("timescaledb-schema", "TimescaleDB lives in schema public"));
        }

        results.add(jobs(c));
        results.add(compression(c));
        results.add(tablespaces(c));

        // TimescaleDB 2.x before 2.7 could create partial aggregates; versions that dropped the column have only finalized ones.
        boolean hasFinalized = !column(c.source, "SELECT 1 FROM information_schema.columns WHERE table_schema = 'timescaledb_information'"
                + " AND table_name = 'continuous_aggregates' AND column_name = 'finalized'").isEmpty();
        boolean partial = hasFinalized && value(c.source,
                "SELECT exists (SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE NOT finalized)").orElse("f").equals("t");
        List<String> caggs = column(c.source, "SELECT format('%I.%I', view_schema, view_name) FROM timescaledb_information.continuous_aggregates ORDER BY 1");
        List<String> unidentified = caggs.isEmpty() ? List.of() : unidentifiedMaterializations(c);
        if (partial) {
            results.add(fail("timescaledb-caggs", "the source has partial (pre-2.7 format) continuous aggregates",
                    "moved across versions they fail with 'insufficient data left in message'.",
                    "migrate them to finalized continuous aggregates on the source first (cagg_migrate), then run `ferry preflight` again."));
        } else if (!unidentified.isEmpty()) {
            results.add(fail("timescaledb-caggs", "continuous aggregates " + String.join(", ", caggs) + " would fail to refresh on the source during the migration",
                    "a refresh deletes the rows it recomputes from the aggregate's materialized hypertable, whose chunks are in ferry's publication of"
                            + " TimescaleDB's chunk schema (so that chunks created during the migration are followed) and have no replica identity:"
                            + " the source refuses the DELETE ('cannot delete from table ... because it does not have a replica identity and publishes deletes'),"
                            + " so every refresh policy run and refresh_continuous_aggregate call fails until the cutover. ferry itself ignores those rows.",
                    "on the source: " + unidentified.stream().map(t -> "ALTER TABLE " + t + " REPLICA IDENTITY FULL;").collect(java.util.stream.Collectors.joining(" "))
                            + " (TimescaleDB gives their chunks the same; refreshes then log the old rows they delete, more WAL while the migration runs;"
                            + " REPLICA IDENTITY DEFAULT after the cutover undoes it), then run `ferry preflight` again."));
        } else if (!caggs.isEmpty()) {
            // EarlyAggregateRefreshes; ContinuousAggregates after post-data for the rest.
            results.add(pass("timescaledb-caggs", "continuous aggregates " + String.join(", ", caggs) + " are made on the target from their definitions"
                    + " and refreshed there as soon as the hypertable each aggregates is copied (after the copy for an aggregate of an aggregate,"
                    + " a resumed copy or --schema-map), and refreshed again at the cutover"));
        } else {
            results.add(pass("timescaledb-caggs", "no continuous aggregates"));
        }
        return results;
    }

    /**
     * Tablespaces attached to hypertables ({@code attach_tablespace}) place their chunks there. ferry restores the
     * schema without tablespaces, as managed services have none: on the target every chunk is in the default one.
     */
    private static CheckResult tablespaces(PreflightContext c) throws SQLException {
        List<String> attached = column(c.source, """
                SELECT format('%I.%I in %s', h.schema_name, h.table_name, string_agg(quote_ident(t.tablespace_name), ', ' ORDER BY t.id))
                FROM _timescaledb_catalog.tablespace t JOIN _timescaledb_catalog.hypertable h ON h.id = t.hypertable_id
                GROUP BY h.schema_name, h.table_name ORDER BY 1""");
        if (attached.isEmpty()) return pass("timescaledb-tablespaces", "no tablespaces attached to hypertables");
        return warn("timescaledb-tablespaces", "hypertables with tablespaces attached: " + String.join("; ", attached),
                "ferry restores the schema without tablespaces (a managed target has none): on the target their chunks are in the default tablespace.",
                "if the target has the tablespaces and you want them, after the cutover: SELECT attach_tablespace('<tablespace>', '<hypertable>');"
                        + " new chunks go there, existing ones stay (ALTER TABLE <chunk> SET TABLESPACE moves one).");
    }

    /** The materialized hypertables of continuous aggregates that have no replica identity, quoted, in order. */
    private static List<String> unidentifiedMaterializations(PreflightContext c) throws SQLException {
        return column(c.source, """
                SELECT format('%I.%I', a.materialization_hypertable_schema, a.materialization_hypertable_name)
                FROM timescaledb_information.continuous_aggregates a
                JOIN pg_class t ON t.oid = format('%I.%I', a.materialization_hypertable_schema, a.materialization_hypertable_name)::regclass
                WHERE t.relreplident <> 'f' ORDER BY 1""");
    }

    /**
     * Hypertables are migrated when the stream can follow them: chunks created during the migration are followed
     * through a publication of their schema (PostgreSQL 15+, which only a superuser may create), and every chunk in it
     * publishes updates and deletes, so each hypertable needs a primary key or REPLICA IDENTITY FULL, which its chunks
     * share; without one the source would refuse the application's UPDATE and DELETE on them.
     */
    private static CheckResult hypertables(PreflightContext c) throws SQLException {
        List<String> all = column(c.source, "SELECT format('%I.%I', hypertable_schema, hypertable_name) FROM timescaledb_information.hypertables ORDER BY 1");
        if (all.isEmpty()) return pass("timescaledb-hypertables", "no hypertables");
        if (c.sourceMajor < 15) {
            return fail("timescaledb-hypertables", "hypertables " + String.join(", ", all) + " cannot be followed on PostgreSQL " + c.sourceMajor,
                    "chunks that TimescaleDB creates during the migration must be published the moment they are created; ferry publishes their schema"
                            + " (FOR TABLES IN SCHEMA), which needs PostgreSQL 15 or later.",
                    "upgrade the source to PostgreSQL 15 or later; or leave them out with --exclude-table and migrate them separately.");
        }
        List<String> unidentified = column(c.source, """
                SELECT format('%I.%I', h.hypertable_schema, h.hypertable_name)
                FROM timescaledb_information.hypertables h
                JOIN pg_class t ON t.oid = format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass
                WHERE NOT (t.relreplident = 'f' OR t.relreplident = 'd'
                           AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid AND i.indisprimary AND i.indimmediate))
                ORDER BY 1""");
        if (!unidentified.isEmpty()) {
            return fail("timescaledb-hypertables", "hypertables " + String.join(", ", unidentified) + " have neither a primary key nor REPLICA IDENTITY FULL",
                    "ferry follows every chunk of a hypertable for updates and deletes, chunks created later included; a chunk without a replica identity"
                            + " would make the source refuse the application's UPDATE and DELETE.",
                    unidentified.stream().map(t -> "ALTER TABLE " + t + " REPLICA IDENTITY FULL;").collect(java.util.stream.Collectors.joining(" "))
                            + " (TimescaleDB gives the chunks the same), or add a primary key; then run `ferry preflight` again.");
        }
        boolean superuser = value(c.source, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").orElse("f").equals("t");
        if (!superuser) {
            return fail("timescaledb-hypertables", "ferry's source user is not a superuser, so it cannot publish the chunks of hypertables " + String.join(", ", all),
                    "chunks created during the migration are followed through CREATE PUBLICATION ... FOR TABLES IN SCHEMA _timescaledb_internal, which only a superuser may run.",
                    "run ferry as a superuser on the source; or leave the hypertables out with --exclude-table.");
        }
        return pass("timescaledb-hypertables", "hypertables " + String.join(", ", all) + " are migrated: made hypertables on the target with the same dimensions"
                + " and compression settings, copied through TimescaleDB, their chunks' changes applied to them");
    }

    /**
     * ferry copies rows and makes hypertables on the target from their definitions, so the target's TimescaleDB may be
     * newer than the source's: it reads every setting an older version can have. Not older: a newer source may use
     * settings the target's version does not know. Without the extension on the target, the schema copy creates its
     * default version.
     */
    private static CheckResult version(PreflightContext c) throws SQLException {
        String sourceVersion = value(c.source, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").orElseThrow();
        Optional<String> targetInstalled = value(c.target, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
        Optional<String> targetVersion = targetInstalled.isPresent() ? targetInstalled
                : value(c.target, "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'");
        List<String> targetAvailable = column(c.target, "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY 1 DESC");
        if (targetVersion.isPresent() && compareVersions(sourceVersion, targetVersion.get()) <= 0) {
            boolean same = sourceVersion.equals(targetVersion.get());
            return pass("timescaledb-version", "TimescaleDB " + sourceVersion + " on the source, " + (same ? "the same" : targetVersion.get())
                    + (targetInstalled.isPresent() ? "" : " (its default, created by the schema copy)") + " on the target"
                    + (same ? "" : ": ferry copies rows, not TimescaleDB's catalog, so a newer target is fine"));
        }
        return fail("timescaledb-version", "TimescaleDB " + sourceVersion + " on the source, but the target has "
                        + targetInstalled.map(v -> v + " installed").orElse(targetAvailable.isEmpty() ? "none available" : "only " + String.join(", ", targetAvailable) + " available"),
                "ferry copies rows and makes each hypertable on the target from its definition, which a target older than the source may not understand"
                        + " (compression and dimension settings added by newer versions).",
                "on the target, if " + sourceVersion + " (or newer) is available: DROP EXTENSION timescaledb; CREATE EXTENSION timescaledb VERSION '" + sourceVersion + "';"
                        + " (reconnect with psql -X first). Otherwise upgrade TimescaleDB on the target.");
    }

    /** Compares dotted versions number by number ("2.22.1" < "2.25.2" < "2.100.0"); a suffix after the digits is ignored. */
    static int compareVersions(String a, String b) {
        String[] x = a.split("\\."), y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int cmp = Integer.compare(i < x.length ? leadingNumber(x[i]) : 0, i < y.length ? leadingNumber(y[i]) : 0);
            if (cmp != 0) return cmp;
        }
        return 0;
    }

    private static int leadingNumber(String part) {
        int end = 0;
        while (end < part.length() && Character.isDigit(part.charAt(end))) end++;
        return end == 0 ? 0 : Integer.parseInt(part.substring(0, end));
    }

    /**
     * Compression, retention and reorder policies and user-defined actions are made again on the target, paused until
     * the cutover. Refused: other kinds (continuous aggregate refresh policies come with the aggregates), policies by
     * creation time, and a scheduled retention policy on the source: the chunks it drops during the migration are not
     * followed (dropping a table logs no row), so the cutover's row counts would differ.
     */
    private static CheckResult jobs(PreflightContext c) throws SQLException {
        List<String> unsupported = column(c.source, """
                SELECT format('%s (%s%s)', j.id, j.proc_name, CASE WHEN h.id IS NULL THEN '' ELSE format(' on %I.%I', h.schema_name, h.table_name) END)
                FROM _timescaledb_config.bgw_job j LEFT JOIN _timescaledb_catalog.hypertable h ON h.id = j.hypertable_id
                WHERE j.id >= 1000 AND j.proc_schema ~ '^_timescaledb'
                  AND NOT (j.proc_name = ANY (?) AND (j.proc_name IN ('policy_reorder', 'policy_refresh_continuous_aggregate')
                                                      OR coalesce(j.config->'compress_after', j.config->'drop_after') IS NOT NULL))
                ORDER BY j.id""", (Object) c.source.createArrayOf("text", TimescalePolicies.PROCEDURES.toArray()));
        if (!unsupported.isEmpty()) {
            return fail("timescaledb-jobs", "TimescaleDB jobs " + String.join(", ", unsupported) + " cannot be made again on the target by this version of ferry",
                    "ferry recreates compression (by age), retention (by age) and reorder policies and user-defined actions; these are of another kind.",
                    "note them (SELECT * FROM timescaledb_information.jobs), remove them on the source during the migration and add them on the target after"
                            + " the cutover; or pass --accept-risk timescaledb-jobs and add them afterwards.");
        }
        List<String> retention = column(c.source, """
                SELECT format('%s (on %I.%I)', j.id, h.schema_name, h.table_name)
                FROM _timescaledb_config.bgw_job j JOIN _timescaledb_catalog.hypertable h ON h.id = j.hypertable_id
                WHERE j.id >= 1000 AND j.proc_name = 'policy_retention' AND j.scheduled ORDER BY j.id""");
        if (!retention.isEmpty()) {
            return fail("timescaledb-jobs", "retention policies " + String.join(", ", retention) + " are scheduled on the source",
                    "the chunks a retention job drops during the migration are not followed (dropping a chunk logs no row changes): their rows would stay on the"
                            + " target and the cutover's row counts would differ.",
                    "pause them during the migration: SELECT alter_job(<id>, scheduled => false); ferry recreates them on the target, paused, and schedules"
                            + " there at the cutover the jobs scheduled on the source, so schedule them on the source again before the cutover if you want them on.");
        }
        List<String> owners = column(c.source, "SELECT DISTINCT owner::text FROM _timescaledb_config.bgw_job WHERE id >= 1000 ORDER BY 1");
        List<String> missingOwners = new ArrayList<>();
        for (String owner : owners) if (column(c.target, "SELECT 1 FROM pg_roles WHERE rolname = ?", owner).isEmpty()) missingOwners.add(owner);
        long jobs = number(c.source, "SELECT count(*) FROM _timescaledb_config.bgw_job WHERE id >= 1000");
        if (jobs == 0) return pass("timescaledb-jobs", "no TimescaleDB background jobs");
        if (!missingOwners.isEmpty()) {
            return warn("timescaledb-jobs", jobs + " TimescaleDB jobs, owned by roles missing on the target: " + String.join(", ", missingOwners),
                    "ferry makes the jobs again on the target; a job whose owner is missing there belongs to ferry's user.",
                    "create the roles on the target before migrating (CREATE ROLE ...), or reassign the jobs after the cutover.");
        }
        return pass("timescaledb-jobs", jobs + " TimescaleDB jobs are made again on the target, paused until the cutover, then scheduled as on the source");
    }

    /**
     * Compression moves rows between a chunk and its compressed chunk; ferry skips those moves by TimescaleDB's WAL
     * markers, which must be on. A DELETE that removes whole compressed batches without decompressing them leaves no
     * row in the stream, so that must be off. Read in ferry's session, which takes the server's and database's settings.
     */
    private static CheckResult compression(PreflightContext c) throws SQLException {
        long compressed = number(c.source, "SELECT count(*) FROM timescaledb_information.hypertables WHERE compression_enabled");
        if (compressed == 0) return pass("timescaledb-compression", "no compressed hypertables");
        String markers = value(c.source, "SELECT current_setting('timescaledb.enable_compression_wal_markers', true)").orElse("");
        String batchDelete = value(c.source, "SELECT current_setting('timescaledb.enable_compressed_direct_batch_delete', true)").orElse("off");
        String database = value(c.source, "SELECT quote_ident(current_database())").orElseThrow();
        if (!"on".equals(markers)) {
            return fail("timescaledb-compression", compressed + " hypertables use compression, but timescaledb.enable_compression_wal_markers is "
                            + (markers == null || markers.isEmpty() ? "not available" : markers),
                    "without the markers, compressing a chunk on the source looks like the application deleting its rows, and ferry would delete them on the target.",
                    markers == null || markers.isEmpty()
                            ? "upgrade TimescaleDB on the source to a version with compression WAL markers (2.12 or later); or pause every compression policy and compress nothing during the migration."
                            : "on the source: ALTER DATABASE " + database + " SET timescaledb.enable_compression_wal_markers = on; (new sessions), or ALTER SYSTEM SET ... and SELECT pg_reload_conf();");
        }
        if ("on".equals(batchDelete)) {
            return fail("timescaledb-compression", compressed + " hypertables use compression, and timescaledb.enable_compressed_direct_batch_delete is on",
                    "a DELETE whose WHERE names only segmentby columns then removes whole compressed batches without decompressing them: the stream shows no"
                            + " deleted row, and those rows would stay on the target.",
                    "on the source: ALTER SYSTEM SET timescaledb.enable_compressed_direct_batch_delete = off; SELECT pg_reload_conf();"
                            + " (every session, the application's included, takes it) or ALTER DATABASE " + database + " SET ... = off; and reconnect the application.");
        }
        return pass("timescaledb-compression", compressed + " hypertables use compression: chunks compressed on the source are compressed on the target after"
                + " the copy, and changes to compressed chunks are followed (compression WAL markers on, direct batch delete off)");
    }
}
