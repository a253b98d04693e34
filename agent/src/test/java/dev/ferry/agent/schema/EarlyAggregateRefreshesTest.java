package dev.ferry.agent.schema;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.DebianPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A continuous aggregate refreshed in steps while its hypertable's time ranges arrive, against a real TimescaleDB:
 * each step materializes the buckets of the rows copied so far, and the last one those of the rest, so the aggregate
 * ends equal to the aggregate of every row though no step saw them all.
 */
@Timeout(180)
class EarlyAggregateRefreshesTest {
    private static final String HOURLY = "SELECT count(*) || ' ' || sum(n) || ' ' || sum(total) FROM public.metrics_hourly";
    private static final String DIRECT = "SELECT count(*) || ' ' || sum(n) || ' ' || sum(total) FROM"
            + " (SELECT time_bucket('1 hour', time), device, count(*) AS n, sum(value) AS total FROM public.metrics GROUP BY 1, 2) a";

    @Test
    void aggregateRefreshedUpToEachCopiedRangeEndsWithEveryBucket() throws Exception {
        try (DebianPostgres server = startWithHypertables("steps")) {
            // The copy has committed the first three days on the target, in the copy's session setting.
            String days = "INSERT INTO public.metrics SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g %% 4, g FROM generate_series(%d, %d) g";
            server.execute("steps_dst", "SET session_replication_role = replica", String.format(days, 0, 3 * 1440 - 1));

            MigrationConfig config = config(server, "steps");
            QualifiedName metrics = new QualifiedName("public", "metrics");
            try (EarlyAggregateRefreshes refreshes = new EarlyAggregateRefreshes(config)) {
                refreshes.copiedBefore(metrics, 3, "'2026-01-04 00:00:00+00'::timestamptz");
                Deadline.await("the aggregate refreshed up to the third day", Duration.ofSeconds(60),
                        () -> "288 4320 9329040".equals(querySafely(server, "steps_dst", HOURLY)));
                server.execute("steps_dst", "SET session_replication_role = replica", String.format(days, 3 * 1440, 6 * 1440 - 1));
                refreshes.tableCopied(metrics);
                refreshes.finish();
            }
            assertEquals("576 8640 37320480", query(server, "steps_dst", DIRECT), "the rows on the target");
            assertEquals(query(server, "steps_dst", DIRECT), query(server, "steps_dst", HOURLY), "every bucket, each aggregated once");
        }
    }

    /**
     * ferry stops (the copy failed, or a SIGTERM) while a refresh runs on the target: the refresh is left to finish
     * there. Cancelled, TimescaleDB 2.25 left its range in continuous_aggs_materialization_ranges, and every later
     * refresh of the aggregate failed, the cutover's too.
     */
    @Test
    void stoppingDuringARefreshLeavesTheAggregateRefreshable() throws Exception {
        try (DebianPostgres server = startWithHypertables("stop")) {
            server.execute("stop_dst", "SET session_replication_role = replica",
                    "INSERT INTO public.metrics SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g % 4, g FROM generate_series(0, 6 * 1440 - 1) g");
            QualifiedName metrics = new QualifiedName("public", "metrics");
            EarlyAggregateRefreshes refreshes = new EarlyAggregateRefreshes(config(server, "stop"));
            refreshes.copiedBefore(metrics, 2, "'2026-01-03 00:00:00+00'::timestamptz");
            Deadline.await("the first step", Duration.ofSeconds(60), () -> "192 2880 4145760".equals(querySafely(server, "stop_dst", HOURLY)));
            // Locked, the materialized hypertable's chunk holds the next refresh after it has recorded its range.
            String materialized = query(server, "stop_dst", "SELECT format('%I.%I', c.schema_name, c.table_name) FROM _timescaledb_catalog.chunk c"
                    + " JOIN _timescaledb_catalog.continuous_agg a ON a.mat_hypertable_id = c.hypertable_id LIMIT 1");
            try (Connection holder = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/stop_dst?user=postgres")) {
                holder.setAutoCommit(false);
                try (Statement s = holder.createStatement()) {
                    s.execute("LOCK TABLE " + materialized + " IN ACCESS EXCLUSIVE MODE");
                }
                refreshes.tableCopied(metrics);
                String waiting = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CALL public.refresh_continuous_aggregate%' AND wait_event_type = 'Lock'";
                Deadline.await("the last refresh to wait for the materialized hypertable", Duration.ofSeconds(60), () -> "1".equals(querySafely(server, "stop_dst", waiting)));
                refreshes.close();
                holder.rollback();
            }
            String running = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CALL public.refresh_continuous_aggregate%' AND state = 'active'";
            Deadline.await("the refresh to end on the server", Duration.ofSeconds(60), () -> "0".equals(querySafely(server, "stop_dst", running)));
            // Rows changed inside the stopped refresh's range, as the stream changes them: a range left behind by it would
            // overlap the next refresh's.
            server.execute("stop_dst", "UPDATE public.metrics SET value = value + 1 WHERE time >= '2026-01-04' AND time < '2026-01-05'");
            server.execute("stop_dst", "CALL public.refresh_continuous_aggregate('public.metrics_hourly', NULL, NULL)");
            assertEquals(query(server, "stop_dst", DIRECT), query(server, "stop_dst", HOURLY));
        }
    }

    /**
     * A range left by a refresh interrupted outside ferry (here written into TimescaleDB's catalog as the fault): the
     * refresh fails with what to run, and after that SQL the same refresh works.
     */
    @Test
    void rangeLeftByAnInterruptedRefreshIsNamedWithItsFix() throws Exception {
        try (DebianPostgres server = startWithHypertables("left")) {
            server.execute("left_dst", "INSERT INTO public.metrics SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g % 4, g FROM generate_series(0, 2 * 1440 - 1) g");
            ContinuousAggregates.Aggregate hourly;
            try (Connection source = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/left_src?user=postgres")) {
                hourly = ContinuousAggregates.read(source).get(0);
            }
            try (Connection target = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/left_dst?user=postgres")) {
                ContinuousAggregates.createEmpty(target, hourly);
                server.execute("left_dst", "INSERT INTO _timescaledb_catalog.continuous_aggs_materialization_ranges"
                        + " SELECT mat_hypertable_id, -9223372036854775808, _timescaledb_functions.time_to_internal('2026-01-02'::timestamptz)"
                        + " FROM _timescaledb_catalog.continuous_agg");
                FerryException refused = assertThrows(FerryException.class, () -> ContinuousAggregates.refresh(target, hourly, null));
                String message = refused.what() + " " + refused.why() + " " + refused.fix();
                assertTrue(message.contains("\"public\".\"metrics_hourly\" cannot be refreshed on the target"), message);
                String fix = message.substring(message.indexOf("DELETE FROM"), message.indexOf("); then") + 1);
                server.execute("left_dst", fix);
                ContinuousAggregates.refresh(target, hourly, null);
            }
            assertEquals(query(server, "left_dst", DIRECT), query(server, "left_dst", HOURLY));
        }
    }

    /**
     * A server with databases {@code name_src} and {@code name_dst}, each with TimescaleDB 2.25.2 and an empty
     * hypertable public.metrics of day chunks; the source also with the hourly aggregate ferry makes on the target.
     */
    private static DebianPostgres startWithHypertables(String name) {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed");
        assumeTrue(DebianPostgres.timescaleAvailable(), "TimescaleDB is not installed: run ../shared/timescaledb/install.sh");
        DebianPostgres server = DebianPostgres.start(Map.of("shared_preload_libraries", "timescaledb", "timescaledb.telemetry_level", "off"));
        try {
            server.execute("postgres", "CREATE DATABASE " + name + "_src", "CREATE DATABASE " + name + "_dst");
            for (String db : new String[] {name + "_src", name + "_dst"}) {
                server.execute(db, "CREATE EXTENSION timescaledb VERSION '2.25.2'",
                        "CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value float8)",
                        "SELECT create_hypertable('public.metrics', 'time', chunk_time_interval => interval '1 day')");
            }
            server.execute(name + "_src", "CREATE MATERIALIZED VIEW public.metrics_hourly WITH (timescaledb.continuous) AS SELECT time_bucket('1 hour', time) AS hour,"
                    + " device, count(*) AS n, sum(value) AS total FROM public.metrics GROUP BY 1, 2 WITH NO DATA");
            return server;
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    private static MigrationConfig config(DebianPostgres server, String name) throws Exception {
        Path logs = Files.createTempDirectory("ferry-aggregate-" + name + "-");
        return new MigrationConfig(ConnectionSpec.parse("source", server.uri(name + "_src")), ConnectionSpec.parse("target", server.uri(name + "_dst")),
                2, logs, logs.resolve("work"), MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP, name, Set.of(), Set.of(), 0,
                Duration.ofSeconds(1));
    }

    private static String querySafely(DebianPostgres server, String db, String sql) {
        try {
            return query(server, db, sql);
        } catch (SQLException e) {
            return e.getMessage(); // the aggregate does not exist until the first step makes it
        }
    }

    private static String query(DebianPostgres server, String db, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/" + db + "?user=postgres");
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
