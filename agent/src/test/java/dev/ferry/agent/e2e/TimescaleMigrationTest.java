package dev.ferry.agent.e2e;

import dev.ferry.agent.Migration;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.cutover.CutoverRequest;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import dev.ferry.testing.DebianPostgres;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Live migrations of TimescaleDB hypertables between two databases of one real TimescaleDB server (same version on
 * both sides): hypertables made on the target from their definitions, compressed chunks copied through TimescaleDB
 * and compressed again, chunk changes routed to their hypertable, compression churn skipped by its WAL markers.
 * Skips, saying why, where Debian's PostgreSQL 15 or TimescaleDB is not installed (../shared/timescaledb/install.sh).
 */
@Timeout(300)
class TimescaleMigrationTest {
    private static final String VERSION = "2.25.2";
    /**
     * Counts a hypertable's compressed chunks copied in compressed form: a chunk ferry compressed after loading it counts
     * the rows it compressed, one copied in compressed form was compressed while empty and its batches copied in after.
     */
    private static final String COPIED_COMPRESSED = "SELECT count(*) FROM timescaledb_information.chunks i JOIN _timescaledb_catalog.chunk c"
            + " ON (c.schema_name, c.table_name) = (i.chunk_schema, i.chunk_name) JOIN _timescaledb_catalog.compression_chunk_size z ON z.chunk_id = c.id"
            + " WHERE i.hypertable_name = '%s' AND i.is_compressed AND z.numrows_pre_compression = 0";
    private static DebianPostgres server;

    @BeforeAll
    static void startServer() {
        assumeTrue(DebianPostgres.available(), "Debian's postgresql-15 is not installed");
        assumeTrue(DebianPostgres.timescaleAvailable(), "TimescaleDB is not installed: run ../shared/timescaledb/install.sh");
        // Direct batch delete off: preflight requires it (such a DELETE leaves no row in the stream).
        server = DebianPostgres.start(Map.of("shared_preload_libraries", "timescaledb", "timescaledb.telemetry_level", "off",
                "timescaledb.enable_compressed_direct_batch_delete", "off", "timescaledb.max_background_workers", "2"));
    }

    @AfterAll
    static void stopServer() {
        if (server != null) server.close();
    }

    /**
     * A compressed hypertable (segmentby + orderby, 20 day chunks, 16 compressed), a space-partitioned one with NaN and
     * Infinity, and a plain table, under a writer that inserts into new chunks and updates and deletes inside
     * compressed ones, while chunks are compressed and decompressed on the source.
     */
    @Test
    void hypertablesWithCompressionMigrateLiveAndEndIdentical() throws Exception {
        migrateLive("ts_live", VERSION, VERSION);
    }

    /** The same from TimescaleDB 2.22.1 into 2.25.2: ferry copies rows and definitions, not catalogs. */
    @Test
    void hypertablesMigrateFromAnOlderTimescaleIntoANewerOne() throws Exception {
        migrateLive("ts_up", "2.22.1", VERSION);
    }

    private void migrateLive(String name, String sourceVersion, String targetVersion) throws Exception {
        String src = name + "_src", dst = name + "_dst";
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + targetVersion + "'");
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + sourceVersion + "'",
                "CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value float8, note text, PRIMARY KEY (device, time))",
                "SELECT create_hypertable('public.metrics', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.metrics SELECT '2026-01-01'::timestamptz + g * interval '10 minutes', g % 5, g, 'n' || g FROM generate_series(0, 20 * 144 - 1) g",
                "ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device', timescaledb.compress_orderby = 'time DESC')",
                "SELECT compress_chunk(c) FROM show_chunks('public.metrics', older_than => '2026-01-17'::timestamptz) c",
                "CREATE TABLE public.readings (time timestamptz NOT NULL, sensor int NOT NULL, reading numeric, PRIMARY KEY (sensor, time))",
                "SELECT create_hypertable('public.readings', 'time', chunk_time_interval => interval '7 days')",
                "SELECT add_dimension('public.readings', 'sensor', number_partitions => 2)",
                "INSERT INTO public.readings SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g % 4,"
                        + " CASE g % 50 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity' ELSE g / 3.0 END FROM generate_series(0, 499) g",
                "CREATE TABLE public.plain (id int PRIMARY KEY, v text)",
                "INSERT INTO public.plain SELECT g, 'p' || g FROM generate_series(1, 100) g",
                // Jobs: a compression policy that runs on the source during the migration, a retention policy paused
                // for it (as preflight asks), a user-defined action.
                "SELECT add_compression_policy('public.metrics', interval '300 days', schedule_interval => interval '5 seconds')",
                "SELECT alter_job(add_retention_policy('public.readings', interval '3650 days'), scheduled => false)",
                "CREATE PROCEDURE public.tidy(job_id int, config jsonb) LANGUAGE plpgsql AS $$ BEGIN END $$",
                "SELECT add_job('public.tidy', interval '1 hour', config => '{\"keep\": 3}')",
                "CREATE MATERIALIZED VIEW public.metrics_daily WITH (timescaledb.continuous) AS SELECT time_bucket('1 day', time) AS day, device,"
                        + " count(*) AS n, max(value) AS top FROM public.metrics GROUP BY 1, 2",
                "SELECT add_continuous_aggregate_policy('public.metrics_daily', start_offset => NULL, end_offset => interval '1 hour',"
                        + " schedule_interval => interval '1 hour')");
        assertEquals("16", query(src, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics' AND is_compressed"));

        Agent agent = new Agent(src, dst);
        try (Writer writer = new Writer(src)) {
            writer.start();
            agent.awaitStream();
            assertEquals("4 0", query(dst, "SELECT count(*) || ' ' || count(*) FILTER (WHERE scheduled) FROM timescaledb_information.jobs WHERE job_id >= 1000"),
                    "every job made on the target, paused while the stream runs");
            // 20 chunks, and those the writer created before the copy's snapshot
            assertEquals("t", query(dst, "SELECT chunks = count(*) AND chunks >= 20 FROM ferry.copy_progress WHERE table_name = 'metrics' GROUP BY chunks"),
                    "the hypertable copied chunk by chunk, in parallel");
            assertEquals("16", query(dst, COPIED_COMPRESSED.formatted("metrics") + " AND i.range_end <= '2026-01-17'"),
                    "the chunks compressed on the source copied in compressed form, not decompressed and compressed again");
            long atStream = writer.iterations.get();
            Deadline.await("the writer to work while ferry streams", Duration.ofMinutes(1), () -> writer.iterations.get() >= atStream + 40);
            // Compression churn on the source while the stream runs: a recent chunk compressed, an old one
            // decompressed, written to, and compressed again (recompression deletes the rows it moves).
            churn(src, "SELECT compress_chunk(c) FROM show_chunks('public.metrics', newer_than => '2026-01-18'::timestamptz,"
                            + " older_than => '2026-01-19'::timestamptz) c",
                    "SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks('public.metrics', newer_than => '2026-01-02'::timestamptz,"
                            + " older_than => '2026-01-03'::timestamptz) c");
            long afterDecompress = writer.iterations.get();
            Deadline.await("the writer to write into the decompressed chunk", Duration.ofMinutes(1), () -> writer.iterations.get() >= afterDecompress + 20);
            churn(src, "SELECT compress_chunk(c) FROM show_chunks('public.metrics', newer_than => '2026-01-02'::timestamptz,"
                    + " older_than => '2026-01-03'::timestamptz) c",
                    // The old chunks the writer updated are partly uncompressed: compressing them again moves those rows.
                    "SELECT compress_chunk(c) FROM show_chunks('public.metrics', older_than => '2026-01-17'::timestamptz) c");
            long afterRecompress = writer.iterations.get();
            Deadline.await("the writer to go on after the recompression", Duration.ofMinutes(1), () -> writer.iterations.get() >= afterRecompress + 20);
            writer.stop();
            assertNull(writer.failure.get(), "the source refused none of the application's statements");
        }
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);

        for (String table : List.of("public.metrics", "public.readings", "public.plain")) {
            String rows = "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM " + table + " t";
            assertEquals(query(src, rows), query(dst, rows), table + " row by row through the hypertable");
        }
        assertTrue(Long.parseLong(query(src, "SELECT count(*) FROM public.metrics WHERE note = 'new'")) > 48, "inserts reached new chunks");
        assertEquals("6", query(dst, "SELECT count(*) FROM public.readings WHERE reading::text IN ('NaN', 'Infinity', '-Infinity') AND time < '2026-01-05'"),
                "NaN and Infinity intact");
        String dimensions = "SELECT string_agg(format('%s %s %s %s %s %s', hypertable_name, dimension_number, column_name, time_interval, integer_interval,"
                + " num_partitions), '; ' ORDER BY hypertable_name, dimension_number) FROM timescaledb_information.dimensions";
        assertEquals(query(src, dimensions), query(dst, dimensions));
        String compression = "SELECT string_agg(format('%s %s %s %s %s %s', hypertable_name, attname, segmentby_column_index, orderby_column_index,"
                + " orderby_asc, orderby_nullsfirst), '; ' ORDER BY hypertable_name, attname) FROM timescaledb_information.compression_settings";
        assertEquals(query(src, compression), query(dst, compression));
        assertEquals("16", query(dst, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics' AND is_compressed"
                + " AND range_end <= '2026-01-17'"), "the chunks compressed on the source at the copy are compressed on the target");
        assertEquals("0", query(src, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"), "slot dropped at cutover");
        String jobs = "SELECT string_agg(format('%s %s %s %s %s %s', proc_name, hypertable_name, schedule_interval, scheduled, config - 'hypertable_id', owner),"
                + " '; ' ORDER BY proc_name) FROM timescaledb_information.jobs WHERE job_id >= 1000";
        assertEquals(query(src, jobs), query(dst, jobs), "the same jobs, scheduled after the cutover as on the source");
        String daily = "SELECT count(*) || ' ' || md5(string_agg(format('%s %s %s %s', day, device, n, top), '|' ORDER BY day, device)) FROM ";
        assertEquals(query(dst, daily + "(SELECT time_bucket('1 day', time) AS day, device, count(*) AS n, max(value) AS top FROM public.metrics GROUP BY 1, 2) a"),
                query(dst, daily + "public.metrics_daily"), "the continuous aggregate answers as the aggregate of the target's data");
    }

    /**
     * Rows that compression moves on the source must not be replayed as the application's deletes: a chunk compressed,
     * written to (so part of it is uncompressed) and compressed again logs DELETEs of the rows it moves into the
     * compressed chunk; only TimescaleDB's WAL markers around them say they are not the user's.
     */
    @Test
    void compressionChurnIsNotReplayedAsDeletes() throws Exception {
        String src = "ts_churn_src", dst = "ts_churn_dst";
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'");
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, v int, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g, g FROM generate_series(0, 95) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events') c",
                // A row written into a compressed chunk stays uncompressed there: the chunk is partial.
                "INSERT INTO public.events VALUES ('2026-01-02 00:15', 5000, 1)");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        // The source picked a bloom sparse index on id (from its primary key) when it compressed; the target, whose key
        // is built after the copy, makes compressed chunks without it, and reads the source's batches all the same.
        assertEquals("4", query(dst, COPIED_COMPRESSED.formatted("events")), "the compressed chunks copied in compressed form");
        assertEquals("97 1", query(dst, "SELECT (SELECT count(*) FROM public.events) || ' ' || (SELECT count(*) FROM _timescaledb_catalog.chunk"
                + " WHERE status & 8 = 8)"), "the partial chunk's uncompressed row copied too, the target's chunk partial as the source's");
        server.execute(src, "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 hour' + interval '30 minutes', 1000 + g, g"
                        + " FROM generate_series(0, 95) g",
                "SELECT compress_chunk(c) FROM show_chunks('public.events') c",
                "SELECT decompress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-02'::timestamptz) c",
                "SELECT compress_chunk(c) FROM show_chunks('public.events') c");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        assertEquals("193", query(src, "SELECT count(*) FROM public.events"));
        assertEquals("193", query(dst, "SELECT count(*) FROM public.events"), "no row lost to compression on the source");
    }

    /**
     * A chunk compressed before the hypertable's orderby changed keeps the old one in its own settings; the target's
     * chunk would get the new one and could not read the source's batches, so that chunk is copied decompressed and
     * compressed on the target after the copy, while the chunk compressed after the change travels compressed.
     */
    @Test
    void chunkCompressedWithOtherSettingsIsCopiedDecompressed() throws Exception {
        String src = "ts_mixed_src", dst = "ts_mixed_dst";
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'");
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.samples (time timestamptz NOT NULL, k int NOT NULL, v int, PRIMARY KEY (k, time))",
                "SELECT create_hypertable('public.samples', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.samples SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g % 3, g FROM generate_series(0, 71) g",
                "ALTER TABLE public.samples SET (timescaledb.compress, timescaledb.compress_segmentby = 'k', timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.samples', older_than => '2026-01-02'::timestamptz) c",
                "ALTER TABLE public.samples SET (timescaledb.compress_orderby = 'time DESC')",
                "SELECT compress_chunk(c) FROM show_chunks('public.samples', older_than => '2026-01-03'::timestamptz) c");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        assertEquals("2 1", query(dst, "SELECT (SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'samples' AND is_compressed)"
                + " || ' ' || (" + COPIED_COMPRESSED.formatted("samples") + ")"), "both compressed, one of them in compressed form");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.samples t";
        assertEquals(query(src, rows), query(dst, rows));
    }

    /**
     * A space-partitioned hypertable in a schema of its own (quoted name), without a primary key, REPLICA IDENTITY FULL
     * (which its chunks take): updates and
     * deletes are matched on the target by every old value, per chunk ((tableoid, ctid), not ctid alone, which repeats
     * across chunks), including identical rows and rows in a chunk created during the stream.
     */
    @Test
    void identityFullHypertableFollowsUpdatesAndDeletes() throws Exception {
        String src = "ts_full_src", dst = "ts_full_dst";
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'");
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE SCHEMA \"Iot\"",
                "CREATE TABLE \"Iot\".samples (time timestamptz NOT NULL, sensor int NOT NULL, value float8)",
                "ALTER TABLE \"Iot\".samples REPLICA IDENTITY FULL",
                "SELECT create_hypertable('\"Iot\".samples', 'time', chunk_time_interval => interval '1 day')",
                "SELECT add_dimension('\"Iot\".samples', 'sensor', number_partitions => 3)",
                "INSERT INTO \"Iot\".samples SELECT '2026-01-01'::timestamptz + (g % 96) * interval '1 hour', g % 6, g % 10 FROM generate_series(0, 599) g");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        server.execute(src, "UPDATE \"Iot\".samples SET value = value + 100 WHERE sensor = 1 AND time < '2026-01-02'",
                "DELETE FROM \"Iot\".samples WHERE sensor = 2 AND time >= '2026-01-03'",
                "INSERT INTO \"Iot\".samples SELECT '2026-01-10'::timestamptz + g * interval '1 hour', g % 6, 5 FROM generate_series(0, 29) g",
                "UPDATE \"Iot\".samples SET value = -1 WHERE time >= '2026-01-10' AND sensor = 3",
                // one of two identical rows (a duplicate pair: g and g + 96 * 5 share time, sensor and value)
                "DELETE FROM \"Iot\".samples WHERE ctid = (SELECT ctid FROM \"Iot\".samples WHERE sensor = 0 AND time = '2026-01-01' LIMIT 1)"
                        + " AND tableoid = (SELECT tableoid FROM \"Iot\".samples WHERE sensor = 0 AND time = '2026-01-01' LIMIT 1)");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"Iot\".samples t";
        assertEquals(query(src, rows), query(dst, rows));
    }

    /**
     * ferry killed with SIGKILL while streaming a compressed hypertable, in the middle of compression churn and writes
     * into compressed chunks, then started again: it resumes from the last applied transaction and ends identical.
     */
    @Test
    void killedWhileStreamingAndRestartedEndsIdentical() throws Exception {
        String src = "ts_kill_src", dst = "ts_kill_dst";
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'");
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, v int, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '10 minutes', g, g FROM generate_series(0, 1439) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = '', timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-09'::timestamptz) c");
        Agent agent = new Agent(src, dst, true);
        agent.awaitStream();
        server.execute(src, "UPDATE public.events SET v = -v WHERE id % 7 = 0",
                "INSERT INTO public.events SELECT '2026-01-12'::timestamptz + g * interval '1 hour', 5000 + g, g FROM generate_series(0, 47) g",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-10'::timestamptz) c");
        dev.ferry.replication.Lsn appliedAtKill = agent.kill();
        server.execute(src, "DELETE FROM public.events WHERE id % 11 = 0",
                "SELECT decompress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-02'::timestamptz) c",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-10'::timestamptz) c");
        agent.restart();
        agent.awaitAppliedPast(appliedAtKill);
        server.execute(src, "UPDATE public.events SET v = v + 1000 WHERE id % 13 = 0");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.events t";
        assertEquals(query(src, rows), query(dst, rows));
    }

    /** A hypertable on an integer column: integer chunk interval, integer-now function, a compression policy by an integer age. */
    @Test
    void integerTimeHypertableMigratesWithItsIntegerNowFunctionAndPolicy() throws Exception {
        String src = "ts_int_src", dst = "ts_int_dst";
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'");
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.ticks (t bigint NOT NULL, k int NOT NULL, v int, PRIMARY KEY (k, t))",
                "SELECT create_hypertable('public.ticks', 't', chunk_time_interval => 100)",
                "CREATE FUNCTION public.ticks_now() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT coalesce(max(t), 0) FROM public.ticks'",
                "SELECT set_integer_now_func('public.ticks', 'public.ticks_now')",
                "INSERT INTO public.ticks SELECT g, g % 4, g FROM generate_series(0, 999) g",
                "ALTER TABLE public.ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'k', timescaledb.compress_orderby = 't')",
                "SELECT compress_chunk(c) FROM show_chunks('public.ticks', older_than => 800) c",
                "SELECT alter_job(add_compression_policy('public.ticks', compress_after => 500), scheduled => false)");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        server.execute(src, "INSERT INTO public.ticks SELECT g, g % 4, g FROM generate_series(1000, 1199) g",
                "UPDATE public.ticks SET v = -v WHERE t % 9 = 0 AND t < 800",
                "DELETE FROM public.ticks WHERE t % 13 = 0");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.ticks t";
        assertEquals(query(src, rows), query(dst, rows));
        String dimensions = "SELECT string_agg(format('%s %s %s %s', hypertable_name, column_name, integer_interval, integer_now_func), '; ')"
                + " FROM timescaledb_information.dimensions";
        assertEquals(query(src, dimensions), query(dst, dimensions));
        String jobs = "SELECT string_agg(format('%s %s %s', proc_name, scheduled, config - 'hypertable_id'), '; ') FROM timescaledb_information.jobs WHERE job_id >= 1000";
        assertEquals(query(src, jobs), query(dst, jobs));
        assertEquals("8", query(dst, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'ticks' AND is_compressed"));
    }

    /**
     * Runs each compression statement on the source, again while TimescaleDB refuses it for concurrent writes (the
     * writer, or the compression policy running at the same time: "aborting recompression due to concurrent DML").
     */
    private static void churn(String database, String... statements) {
        for (String sql : statements) {
            Deadline.await("TimescaleDB to run " + sql, Duration.ofMinutes(1), () -> {
                try {
                    server.execute(database, sql);
                    return true;
                } catch (IllegalStateException e) {
                    if (e.getMessage().contains("concurrent")) return false;
                    throw e;
                }
            });
        }
    }

    private static String query(String database, String sql) throws SQLException {
        try (Connection c = connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static Connection connect(String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/" + database + "?user=postgres");
    }

    /** ferry run in a thread of this JVM, or as `ferry run` in a child JVM to be killed, from {@code src} to {@code dst}. */
    private static final class Agent {
        final Database source;
        final Database target;
        final Thread thread;
        final AtomicReference<Object> outcome = new AtomicReference<>();
        final List<String> childCommand = new ArrayList<>();
        Process child;

        Agent(String src, String dst) throws Exception {
            this(src, dst, false);
        }

        Agent(String src, String dst, boolean asChild) throws Exception {
            source = new Database(ConnectionSpec.parse("source", server.uri(src)), "source");
            target = new Database(ConnectionSpec.parse("target", server.uri(dst)), "target");
            Path logDir = Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"), "logs-" + src).toAbsolutePath();
            Files.createDirectories(logDir);
            MigrationConfig config = new MigrationConfig(source.spec(), target.spec(), 2, logDir, logDir.resolveSibling("work-" + src),
                    MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP, MigrationConfig.defaultSlotName(src), Set.of(), Set.of(), 0,
                    Duration.ofSeconds(1));
            if (asChild) {
                childCommand.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                        "-cp", System.getProperty("java.class.path"), "dev.ferry.agent.cli.Main", "run",
                        "--source", server.uri(src), "--target", server.uri(dst), "--jobs", "2", "--log-dir", logDir.toString(),
                        "--work-dir", logDir.resolveSibling("work-" + src).toString()));
                thread = null;
                restart();
                return;
            }
            LogSetup.toDirectory(logDir, System.out, false);
            thread = new Thread(() -> {
                try {
                    outcome.set(new Migration(config).run());
                } catch (Throwable e) {
                    outcome.set(e);
                }
            }, "test-agent-" + src);
            thread.start();
        }

        void restart() throws Exception {
            Path console = Path.of(childCommand.get(childCommand.indexOf("--log-dir") + 1), "child-console.log");
            child = new ProcessBuilder(childCommand).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(console.toFile())).start();
        }

        /** SIGKILL, like a crash; returns the LSN applied then. */
        dev.ferry.replication.Lsn kill() throws Exception {
            child.destroyForcibly().waitFor();
            try (Connection c = target.open()) {
                return new StateStore().load(c).orElseThrow().appliedLsn();
            }
        }

        void awaitAppliedPast(dev.ferry.replication.Lsn lsn) {
            Deadline.await("the restarted agent to apply past " + lsn, Duration.ofMinutes(3), () -> {
                if (!child.isAlive()) throw new AssertionError("ferry run exited with " + child.exitValue());
                try (Connection c = target.open()) {
                    return new StateStore().load(c).filter(s -> s.appliedLsn().isAfter(lsn) && s.heartbeatAt().isPresent()).isPresent();
                } catch (SQLException e) {
                    return false;
                }
            });
        }

        void awaitStream() {
            Deadline.await("the agent to stream", Duration.ofMinutes(3), () -> {
                if (outcome.get() instanceof Throwable failure) throw new AssertionError("the agent failed", failure);
                if (child != null && !child.isAlive()) throw new AssertionError("ferry run exited with " + child.exitValue());
                try (Connection c = target.open()) {
                    Optional<MigrationState> state = new StateStore().load(c);
                    return state.filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
                } catch (SQLException e) {
                    return false;
                }
            });
        }

        String cutover() throws Exception {
            String summary = new CutoverRequest(source, target).run(Duration.ofMinutes(2), new PrintWriter(new StringWriter()));
            if (child != null) {
                assertTrue(child.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "ferry run exits after the cutover");
                assertEquals(0, child.exitValue());
                return summary;
            }
            thread.join(Duration.ofSeconds(60).toMillis());
            if (outcome.get() instanceof Throwable failure) throw new AssertionError("the agent failed", failure);
            assertEquals(summary, outcome.get());
            return summary;
        }
    }

    /**
     * The application: inserts into new chunks (future days), updates and deletes rows in old, compressed chunks,
     * updates a space-partitioned hypertable and inserts into a plain table, each in its own transaction.
     */
    private static final class Writer implements AutoCloseable {
        final String database;
        final AtomicLong iterations = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile boolean running = true;
        Thread thread;

        Writer(String database) {
            this.database = database;
        }

        void start() {
            thread = new Thread(this::run, "test-writer-" + database);
            thread.start();
        }

        private void run() {
            try (Connection c = connect(database); Statement s = c.createStatement()) {
                for (long i = 0; running; i++) {
                    long updated = (i * 7) % 2300, deleted = 2300 - (i * 11) % 2300;
                    s.execute("INSERT INTO public.metrics VALUES ('2026-01-21'::timestamptz + " + i + " * interval '30 minutes', " + (i % 5) + ", " + i + ", 'new')");
                    s.execute("UPDATE public.metrics SET value = -" + i + ", note = 'upd' WHERE device = " + (updated % 5)
                            + " AND time = '2026-01-01'::timestamptz + " + updated + " * interval '10 minutes'");
                    s.execute("DELETE FROM public.metrics WHERE device = " + (deleted % 5) + " AND time = '2026-01-01'::timestamptz + " + deleted + " * interval '10 minutes'");
                    // Into the chunk decompressed during the stream (2026-01-02), whatever its state.
                    s.execute("INSERT INTO public.metrics VALUES ('2026-01-02'::timestamptz + " + i + " * interval '1 minute' + interval '5 seconds', 7, " + i + ", 'day2')"
                            + " ON CONFLICT (device, time) DO UPDATE SET value = excluded.value");
                    s.execute("UPDATE public.readings SET reading = reading + 1 WHERE sensor = " + (i % 4) + " AND time = '2026-01-01'::timestamptz + "
                            + ((i * 4 + i % 4) % 500) + " * interval '1 hour'");
                    s.execute("INSERT INTO public.plain VALUES (" + (1000 + i) + ", 'w')");
                    iterations.incrementAndGet();
                }
            } catch (Throwable e) {
                failure.set(e);
                running = false;
            }
        }

        void stop() throws InterruptedException {
            running = false;
            thread.join(Duration.ofSeconds(30).toMillis());
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }
}
