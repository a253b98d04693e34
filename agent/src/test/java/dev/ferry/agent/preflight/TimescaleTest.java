package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.testing.DebianPostgres;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Map;

import static dev.ferry.agent.preflight.PreflightTest.ferry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The TimescaleDB checks against a real TimescaleDB: two versions side by side reproduce a version mismatch. Skips
 * where ../shared/timescaledb/install.sh has not installed it. (Through Testcontainers' timescale/timescaledb-ha
 * where a Docker engine exists: none does on these machines.)
 */
@Timeout(180)
class TimescaleTest {
    @Test
    void versionMismatchJobsAndCompressionAreReported() throws Exception {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed");
        assumeTrue(DebianPostgres.timescaleAvailable(), "TimescaleDB is not installed: run ../shared/timescaledb/install.sh");
        try (DebianPostgres server = DebianPostgres.start(Map.of("shared_preload_libraries", "timescaledb", "timescaledb.telemetry_level", "off"))) {
            server.execute("postgres", "CREATE DATABASE tsdb_source", "CREATE DATABASE tsdb_target");
            server.execute("tsdb_source", "CREATE EXTENSION timescaledb VERSION '2.25.2'",
                    "CREATE TABLE public.conditions (time timestamptz NOT NULL, device int, temperature float8)",
                    "SELECT create_hypertable('public.conditions', 'time')",
                    "INSERT INTO public.conditions SELECT now() - g * interval '1 minute', g % 10, g FROM generate_series(1, 1000) g",
                    "ALTER TABLE public.conditions SET (timescaledb.compress, timescaledb.compress_segmentby = 'device')",
                    "SELECT add_compression_policy('public.conditions', interval '7 days')",
                    "SELECT add_retention_policy('public.conditions', interval '90 days')",
                    "CREATE MATERIALIZED VIEW public.hourly WITH (timescaledb.continuous) AS"
                            + " SELECT time_bucket('1 hour', time) AS bucket, device, avg(temperature) FROM public.conditions GROUP BY 1, 2 WITH NO DATA");
            server.execute("tsdb_target", "CREATE EXTENSION timescaledb VERSION '2.22.1'");

            dev.ferry.agent.testing.FerryCommand report = ferry("preflight", "--source", server.uri("tsdb_source"), "--target", server.uri("tsdb_target"));
            assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out() + report.err());
            String text = report.out();
            assertTrue(text.contains("FAIL timescaledb-version: TimescaleDB 2.25.2 on the source, but the target has 2.22.1 installed"), text);
            assertTrue(text.contains("CREATE EXTENSION timescaledb VERSION '2.25.2'"), text);
            assertTrue(text.contains("FAIL timescaledb-jobs: retention policies 1001 (on public.conditions) are scheduled on the source"), text);
            assertTrue(text.contains("SELECT alter_job(<id>, scheduled => false);"), text);
            assertTrue(text.contains("FAIL timescaledb-compression: 1 hypertables use compression, and timescaledb.enable_compressed_direct_batch_delete is on"), text);
            assertTrue(text.contains("ALTER SYSTEM SET timescaledb.enable_compressed_direct_batch_delete = off"), text);
            assertTrue(text.contains("FAIL timescaledb-caggs: continuous aggregates public.hourly would fail to refresh on the source during the migration"), text);
            assertTrue(java.util.regex.Pattern.compile("ALTER TABLE _timescaledb_internal\\._materialized_hypertable_\\d+ REPLICA IDENTITY FULL;").matcher(text).find(), text);
            assertTrue(text.contains("FAIL timescaledb-hypertables: hypertables public.conditions have neither a primary key nor REPLICA IDENTITY FULL"), text);
            assertTrue(text.contains("ALTER TABLE public.conditions REPLICA IDENTITY FULL;"), text);
            assertTrue(text.contains("PASS target-empty"), "extension catalog tables do not count: " + text);
            assertFalse(text.contains("_hyper_1_1_chunk"), "chunks are not user tables: " + text);
            assertTrue(text.contains("PASS timescaledb-tablespaces: no tablespaces attached to hypertables"), text);

            java.nio.file.Path location = java.nio.file.Files.createTempDirectory("ferry-tablespace-");
            assertEquals(0, new ProcessBuilder("chown", "postgres", location.toString()).start().waitFor(), "the server's user owns the tablespace's folder");
            server.execute("tsdb_source", "CREATE TABLESPACE archive LOCATION '" + location + "'",
                    "SELECT attach_tablespace('archive', 'public.conditions')",
                    "DO $$ DECLARE t text; BEGIN SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) INTO t"
                            + " FROM timescaledb_information.continuous_aggregates; EXECUTE 'ALTER TABLE ' || t || ' REPLICA IDENTITY FULL'; END $$");
            String attached = ferry("preflight", "--source", server.uri("tsdb_source"), "--target", server.uri("tsdb_target")).out();
            assertTrue(attached.contains("PASS timescaledb-caggs: continuous aggregates public.hourly are made on the target from their definitions"
                    + " and refreshed there as soon as the hypertable each aggregates is copied"), attached);
            assertTrue(attached.contains("WARN timescaledb-tablespaces: hypertables with tablespaces attached: public.conditions in archive"), attached);
            assertTrue(attached.contains("SELECT attach_tablespace('<tablespace>', '<hypertable>');"), attached);
            // No chunk was made there (attach_tablespace places new ones): the tablespace and its folder go.
            server.execute("tsdb_source", "SELECT detach_tablespaces('public.conditions')", "DROP TABLESPACE archive");
            java.nio.file.Files.delete(location);

            // The extension in another schema on the source, none on the target: the schema copy would put it there too.
            server.execute("postgres", "CREATE DATABASE tsdb_elsewhere", "CREATE DATABASE tsdb_empty");
            server.execute("tsdb_elsewhere", "CREATE SCHEMA ts", "CREATE EXTENSION timescaledb SCHEMA ts VERSION '2.25.2'");
            dev.ferry.agent.testing.FerryCommand elsewhere = ferry("preflight", "--source", server.uri("tsdb_elsewhere"), "--target", server.uri("tsdb_empty"));
            assertTrue(elsewhere.out().contains("FAIL timescaledb-schema: TimescaleDB is installed in schema ts on the source and not yet on the target"),
                    elsewhere.out());
            assertTrue(elsewhere.out().contains("CREATE EXTENSION timescaledb SCHEMA public;"), elsewhere.out());
        }
    }

    @Test
    void timescaleChecksAreSilentOnPlainPostgres() {
        try (TestPostgres plain = TestPostgres.start()) {
            plain.createDatabase("plain_src");
            plain.createDatabase("plain_dst");
            dev.ferry.agent.testing.FerryCommand report = ferry("preflight", "--source", plain.uri("plain_src"), "--target", plain.uri("plain_dst"));
            assertEquals(ExitCode.OK, report.code(), report.out());
            assertFalse(report.out().contains("timescaledb"), report.out());
        }
    }
}
