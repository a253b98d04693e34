package dev.ferry.agent.preflight;

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
        String sourceVersion = value(c.source, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").orElseThrow();
        Optional<String> targetInstalled = value(c.target, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
        List<String> targetAvailable = column(c.target, "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY 1 DESC");
        if (targetInstalled.map(sourceVersion::equals).orElse(targetAvailable.contains(sourceVersion))) {
            results.add(pass("timescaledb-version", "TimescaleDB " + sourceVersion + " on the source, and the same version on the target"));
        } else {
            results.add(fail("timescaledb-version", "TimescaleDB " + sourceVersion + " on the source, but the target has "
                            + targetInstalled.map(v -> v + " installed").orElse(targetAvailable.isEmpty() ? "none available" : "only " + String.join(", ", targetAvailable) + " available"),
                    "source and target must run the same TimescaleDB version: its catalog is copied as data.",
                    "on the target, if " + sourceVersion + " is available: DROP EXTENSION timescaledb; CREATE EXTENSION timescaledb VERSION '" + sourceVersion + "';"
                            + " (reconnect with psql -X first). Otherwise upgrade the source: ALTER EXTENSION timescaledb UPDATE TO '<target version>';"));
        }
        Optional<String> targetSchema = value(c.target, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'");
        String sourceSchema = value(c.source, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'").orElse("public");
        if (targetSchema.isPresent() && !targetSchema.get().equals("public")) {
            results.add(fail("timescaledb-schema", "TimescaleDB is installed in schema " + targetSchema.get() + " on the target",
                    "managed TimescaleDB services support the extension only in schema public.",
                    "on the target: DROP EXTENSION timescaledb; CREATE EXTENSION timescaledb SCHEMA public;"));
        } else if (!sourceSchema.equals("public")) {
            results.add(warn("timescaledb-schema", "TimescaleDB is installed in schema " + sourceSchema + " on the source",
                    "the target will have it in public; functions called with the schema name (" + sourceSchema + ".time_bucket) must be changed.",
                    "move it on the source before migrating, or adjust the application's qualified calls."));
        } else {
            results.add(pass("timescaledb-schema", "TimescaleDB lives in schema public"));
        }

        List<String> owners = column(c.source, "SELECT DISTINCT owner::text FROM _timescaledb_config.bgw_job WHERE id >= 1000 ORDER BY 1");
        List<String> missingOwners = new ArrayList<>();
        for (String owner : owners) if (column(c.target, "SELECT 1 FROM pg_roles WHERE rolname = ?", owner).isEmpty()) missingOwners.add(owner);
        long jobs = number(c.source, "SELECT count(*) FROM _timescaledb_config.bgw_job WHERE id >= 1000");
        results.add(jobs == 0 ? pass("timescaledb-jobs", "no TimescaleDB background jobs")
                : warn("timescaledb-jobs", jobs + " TimescaleDB background jobs owned by " + String.join(", ", owners)
                        + (missingOwners.isEmpty() ? "" : "; roles missing on the target: " + String.join(", ", missingOwners)),
                "jobs (compression, retention, continuous aggregate refresh) take ACCESS EXCLUSIVE locks that the dump's ACCESS SHARE locks block,"
                        + " and on managed services a job can only belong to an existing role.",
                "pause them on the source while the schema is dumped: SELECT public.alter_job(id::integer, scheduled => false) FROM _timescaledb_config.bgw_job WHERE id >= 1000;"
                        + "\nand resume afterwards: SELECT public.alter_job(id::integer, scheduled => true) FROM _timescaledb_config.bgw_job WHERE id >= 1000;"
                        + (missingOwners.isEmpty() ? "" : "\ncreate the missing roles on the target, or reassign the jobs (see the FAQ's bgw_job copy with a new owner).")));

        long compressed = number(c.source, "SELECT count(*) FROM timescaledb_information.hypertables WHERE compression_enabled");
        results.add(compressed == 0 ? pass("timescaledb-compression", "no compressed hypertables")
                : warn("timescaledb-compression", compressed + " hypertables use compression",
                "changes to already compressed chunks (mutable compression: INSERT, UPDATE, DELETE on them) are the hardest to follow live.",
                "avoid writing into compressed chunks during the migration, and verify those hypertables after the cutover."));

        boolean partial = value(c.source, "SELECT exists (SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE NOT finalized)").orElse("f").equals("t");
        results.add(partial
                ? fail("timescaledb-caggs", "the source has partial (pre-2.7 format) continuous aggregates",
                "moved across versions they fail with 'insufficient data left in message'.",
                "migrate them to finalized continuous aggregates on the source first (cagg_migrate), then run `ferry preflight` again.")
                : pass("timescaledb-caggs", "continuous aggregates, if any, are finalized"));
        return results;
    }
}
