package dev.ferry.agent.preflight;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.tools.PgDumpTool;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.column;

/** Server versions, the dump tools, and the extensions the source uses. */
final class Versions implements CheckFamily {
    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<CheckResult> results = new ArrayList<>();
        if (c.sourceMajor < 13) {
            results.add(fail("source-version", "the source runs PostgreSQL " + c.sourceMajor,
                    "ferry supports sources from PostgreSQL 13 (publish_via_partition_root, slot WAL limits).",
                    "upgrade the source to 13 or newer first, or migrate with pg_dump and a maintenance window."));
        } else {
            results.add(pass("source-version", "source PostgreSQL " + c.sourceMajor + ", target PostgreSQL " + c.targetMajor));
        }
        results.add(c.targetMajor >= c.sourceMajor
                ? pass("target-version", "the target (" + c.targetMajor + ") is not older than the source (" + c.sourceMajor + ")")
                : fail("target-version", "the target runs PostgreSQL " + c.targetMajor + ", older than the source's " + c.sourceMajor,
                "a schema or data type of the newer version may not exist on the older one; PostgreSQL does not support downgrades.",
                "migrate to a target of PostgreSQL " + c.sourceMajor + " or newer, or pass --accept-risk target-version after checking the schema restores."));

        if (c.config.schemaMode() == MigrationConfig.SchemaMode.COPY) {
            try {
                PgDumpTool.find(c.sourceMajor, c.config.pgDumpDir());
                results.add(pass("pg-dump-version", "pg_dump and pg_restore " + c.sourceMajor + "+ found"));
            } catch (FerryException e) {
                results.add(fail("pg-dump-version", e.what(), e.why(), e.fix()));
            }
        }

        List<String> missing = new ArrayList<>();
        List<String> otherVersion = new ArrayList<>();
        for (List<String> extension : rows(c)) {
            String name = extension.get(0);
            String version = extension.get(1);
            if (name.equals("plpgsql") || name.equals("timescaledb")) continue; // built in; TimescaleDB has its own checks
            List<String> available = column(c.target, "SELECT version FROM pg_available_extension_versions WHERE name = ?", name);
            if (available.isEmpty()) missing.add(name + " " + version);
            else if (!available.contains(version)) otherVersion.add(name + " " + version + " (target offers " + String.join(", ", available) + ")");
        }
        if (!missing.isEmpty()) {
            results.add(fail("extensions", "extensions used on the source are not available on the target: " + String.join(", ", missing),
                    "the schema restore creates them; without them the objects that depend on them cannot be restored.",
                    "install them on the target server (its package or your provider's extension list), then run `ferry preflight` again."));
        } else if (!otherVersion.isEmpty()) {
            results.add(warn("extensions", "extensions exist on the target only in other versions: " + String.join(", ", otherVersion),
                    "the target creates its default version; data types usually carry over, but check the extension's upgrade notes.",
                    "install the source's version on the target, or upgrade the extension on the source first (ALTER EXTENSION ... UPDATE)."));
        } else {
            results.add(pass("extensions", "every extension of the source is available on the target"));
        }
        return results;
    }

    private static List<List<String>> rows(PreflightContext c) throws SQLException {
        List<List<String>> rows = new ArrayList<>();
        try (var s = c.source.createStatement(); var rs = s.executeQuery("SELECT extname, extversion FROM pg_extension ORDER BY 1")) {
            while (rs.next()) rows.add(List.of(rs.getString(1), rs.getString(2)));
        }
        return rows;
    }
}
