package dev.ferry.agent.e2e;

import dev.ferry.agent.run.Migration;
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
    /** As preflight asks: otherwise a refresh on the source fails while ferry's publication covers the aggregates' chunks. */
    private static final String MATERIALIZATION_IDENTITY = "DO $$ DECLARE t text; BEGIN FOR t IN SELECT format('%I.%I', materialization_hypertable_schema,"
            + " materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates LOOP"
            + " EXECUTE 'ALTER TABLE ' || t || ' REPLICA IDENTITY FULL'; END LOOP; END $$";

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
                        + " schedule_interval => interval '1 hour')",
                MATERIALIZATION_IDENTITY);
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
            String rows = rowsOf(table);
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
        createDatabases(src, dst);
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
        // The source picked a bloom sparse index on id (from its primary key) when it compressed; the target's key is
        // built before the copy (the hypertable has compressed chunks), so its compressed chunks have it too.
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
        createDatabases(src, dst);
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
        String rows = rowsOf("public.samples");
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
        createDatabases(src, dst);
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
        String rows = rowsOf("\"Iot\".samples");
        assertEquals(query(src, rows), query(dst, rows));
    }

    /**
     * ferry killed with SIGKILL while streaming a compressed hypertable, in the middle of compression churn and writes
     * into compressed chunks, then started again: it resumes from the last applied transaction and ends identical.
     */
    @Test
    void killedWhileStreamingAndRestartedEndsIdentical() throws Exception {
        String src = "ts_kill_src", dst = "ts_kill_dst";
        createDatabases(src, dst);
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
        String rows = rowsOf("public.events");
        assertEquals(query(src, rows), query(dst, rows));
    }

    /**
     * The FAQ's hazard: TimescaleDB's jobs on the source need ACCESS EXCLUSIVE on a chunk (compression's truncate, a
     * retention drop), so a lock ferry keeps on chunks for the whole copy blocks them for that long. The copy is held
     * open by a lock on its last table on the target; meanwhile compression, a retention drop and a continuous
     * aggregate refresh on the source must finish, and the migration still end identical.
     */
    @Test
    void sourceJobsRunWhileTheCopyIsStillGoing() throws Exception {
        String src = "ts_locks_src", dst = "ts_locks_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value float8, PRIMARY KEY (device, time))",
                "SELECT create_hypertable('public.metrics', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.metrics SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g % 5, g FROM generate_series(0, 12 * 1440 - 1) g",
                "ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device')",
                "SELECT compress_chunk(c) FROM show_chunks('public.metrics', older_than => '2026-01-07'::timestamptz) c",
                "CREATE MATERIALIZED VIEW public.metrics_daily WITH (timescaledb.continuous) AS SELECT time_bucket('1 day', time) AS day, device,"
                        + " count(*) AS n FROM public.metrics GROUP BY 1, 2",
                MATERIALIZATION_IDENTITY,
                // The smallest table, so copied last: the test holds the copy open on it.
                "CREATE TABLE public.hold (id int PRIMARY KEY)", "INSERT INTO public.hold VALUES (1)");
        Agent agent = new Agent(src, dst);
        // Sampled from the slot on (the state is recorded right after it), not during preflight's read of a sample.
        Deadline.await("the migration's state on the target", Duration.ofMinutes(2), () -> agent.phaseAtLeast(MigrationState.Phase.SCHEMA));
        try (LockSampler locks = new LockSampler(src); Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            Deadline.await("public.hold to exist on the target, to lock it", Duration.ofMinutes(2), () -> lockTable(holder, "public.hold"));
            Deadline.await("every unit of public.metrics to be copied", Duration.ofMinutes(2), () -> "t".equals(
                    querySafely(dst, "SELECT count(*) = max(chunks) FROM ferry.copy_progress WHERE table_name = 'metrics'")));
            String copied = "SELECT count(*) FROM ferry.copy_progress WHERE table_name = 'hold'";
            assertEquals("0", query(dst, copied), "the copy is still going");
            for (String job : List.of(
                    "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('public.metrics', older_than => '2026-01-12'::timestamptz) c",
                    "SELECT count(*) FROM drop_chunks('public.metrics', older_than => '2026-01-02'::timestamptz)",
                    "INSERT INTO public.metrics VALUES ('2026-01-12 12:00:30', 9, 1)",
                    "CALL refresh_continuous_aggregate('public.metrics_daily', NULL, NULL)")) {
                long started = System.nanoTime();
                server.execute(src, "SET statement_timeout = '20s'", job); // fails the test when ferry's locks block it
                System.out.printf("during the copy, %.0f ms: %s%n", (System.nanoTime() - started) / 1e6, job);
            }
            assertEquals("0", query(dst, copied), "the jobs ran while the copy was still going");
            holder.rollback();
            agent.awaitStream();
            // The retention drop is not streamed (dropping a chunk logs no row): done on the target as a retention job would.
            server.execute(dst, "SELECT drop_chunks('public.metrics', older_than => '2026-01-02'::timestamptz)");
            String summary = agent.cutover();
            assertTrue(summary.contains("migration finished"), summary);
            locks.report();
        }
        String rows = rowsOf("public.metrics");
        assertEquals(query(src, rows), query(dst, rows));
        assertEquals(query(src, "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed"),
                query(dst, "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed"));
    }

    /**
     * A chunk recompressed on the source after the copy's snapshot, before ferry reads it: TimescaleDB moves the rows
     * written into the compressed chunk and truncates what it emptied, which the older snapshot does not see, so those
     * rows would be missing from the copy (and the stream skips the move). The copy refuses the unit instead and copies
     * the hypertable again in a new snapshot by itself, and ends identical.
     */
    @Test
    void chunkRecompressedBeforeItsCopyIsCopiedAgainNotLost() throws Exception {
        String src = "ts_rewrite_src", dst = "ts_rewrite_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, v int, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g, g FROM generate_series(0, 95) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = 'id')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events') c",
                // rows written into compressed chunks: partly uncompressed, until the next compression moves them
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 hour' + interval '30 minutes', 1000 + g, g FROM generate_series(0, 95) g");
        Files.deleteIfExists(Agent.logDir(src).resolve("ferry.log")); // a run before this one may have logged the same
        Agent agent;
        try (Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            agent = new Agent(src, dst);
            // Held on the target, the hypertable's copy waits before it reads anything on the source.
            Deadline.await("public.events to exist on the target, to lock it", Duration.ofMinutes(2), () -> lockTable(holder, "public.events"));
            server.execute(src, "SELECT compress_chunk(c) FROM show_chunks('public.events') c");
            holder.rollback();
        }
        agent.awaitStream();
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = rowsOf("public.events");
        assertEquals(query(src, rows), query(dst, rows));
        assertTrue(Files.readString(agent.logDir.resolve("ferry.log")).contains("TimescaleDB changed its chunks on the source"),
                "the refused unit is logged, and the hypertable copied again");
    }

    /**
     * Both copy workers copy units of one hypertable at once. TimescaleDB holds a SHARE UPDATE EXCLUSIVE lock on a
     * hypertable from a chunk's creation until its transaction commits, so a unit that made its chunks in its own
     * transaction kept the other worker from making any until it committed: the hypertable's copy ran one unit at a
     * time. Held at the moment each unit records its progress (ferry.copy_progress locked on the target), both workers
     * must get there, with their units' chunks made (compressed or not) and their rows copied.
     */
    @Test
    void unitsOfOneHypertableAreCopiedByBothWorkersAtOnce() throws Exception {
        String src = "ts_parallel_src", dst = "ts_parallel_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, v int, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g, g FROM generate_series(0, 10 * 1440 - 1) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = '', timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-06'::timestamptz) c");
        String waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'ferry.copy_progress'::regclass";
        Agent agent;
        try (Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            agent = new Agent(src, dst);
            // After the migration's record is written (it empties ferry.copy_progress), before any unit records its progress.
            Deadline.await("the migration's state on the target", Duration.ofMinutes(2),
                    () -> querySafely(dst, "SELECT phase FROM ferry.migration") != null);
            try (Statement s = holder.createStatement()) {
                s.execute("LOCK TABLE ferry.copy_progress IN SHARE MODE");
            }
            Deadline.await("both copy workers to wait with a unit of public.events copied", Duration.ofSeconds(30),
                    () -> "2".equals(querySafely(dst, waiting)));
            holder.rollback();
        }
        agent.awaitStream();
        server.execute(src, "DELETE FROM public.events WHERE id % 1000 = 3");
        cutoverAndCompareEvents(agent, src, dst);
    }

    /**
     * A hypertable with compressed chunks gets its primary key on the target before its rows: built after the copy it
     * is checked and built on every compressed chunk (2.0 s of the 2.5 s of the bench's key), built first each chunk
     * gets it empty. Held while each unit records its progress (ferry.copy_progress locked on the target), the key
     * must already be there; its other index is built after the copy as before. At the end the indexes hold every row (amcheck with heapallindexed on
     * every chunk's and compressed chunk's btree), queries through them answer as on the source, and the key refuses
     * an existing row in a compressed chunk and in an uncompressed one, as on the source.
     */
    @Test
    void compressedHypertableGetsItsKeysBeforeItsRowsAndTheyHoldEveryRow() throws Exception {
        String src = "ts_keys_src", dst = "ts_keys_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, k int NOT NULL, v int, PRIMARY KEY (id, time))",
                "CREATE INDEX events_v ON public.events (v, time DESC)",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g, g % 7, g % 1000 FROM generate_series(0, 8 * 1440 - 1) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = 'k', timescaledb.compress_orderby = 'time DESC')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-06'::timestamptz) c",
                // a partly compressed chunk: rows written into a compressed chunk after its compression
                "INSERT INTO public.events SELECT '2026-01-02'::timestamptz + g * interval '1 minute' + interval '30 seconds', 100000 + g, g % 7, -g"
                        + " FROM generate_series(0, 99) g");
        String keys = "SELECT count(*) FROM pg_index WHERE indrelid = 'public.events'::regclass AND indisunique";
        String waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'ferry.copy_progress'::regclass";
        Agent agent;
        try (Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            agent = new Agent(src, dst);
            Deadline.await("the migration's state on the target", Duration.ofMinutes(2),
                    () -> querySafely(dst, "SELECT phase FROM ferry.migration") != null);
            try (Statement s = holder.createStatement()) {
                s.execute("LOCK TABLE ferry.copy_progress IN SHARE MODE");
            }
            Deadline.await("a copy worker to wait with a unit of public.events copied", Duration.ofSeconds(30),
                    () -> !"0".equals(querySafely(dst, waiting)));
            assertEquals(query(src, keys), query(dst, keys), "public.events's primary key on the target before any of its units is in");
            holder.rollback();
        }
        agent.awaitStream();
        assertEquals(query(dst, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'events' AND is_compressed"),
                query(dst, COPIED_COMPRESSED.formatted("events")), "every compressed chunk copied in compressed form");
        server.execute(src, "INSERT INTO public.events VALUES ('2026-01-03 00:00:10', 200000, 3, 5)",
                "UPDATE public.events SET v = v + 1 WHERE id % 500 = 1", "DELETE FROM public.events WHERE id % 700 = 2");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = rowsOf("public.events");
        assertEquals(query(src, rows), query(dst, rows));
        server.execute(dst, "CREATE EXTENSION amcheck");
        assertTrue(checkChunkIndexes(dst) >= 16, "the btree indexes of the chunks and compressed chunks checked");
        for (String indexed : List.of("SELECT count(*) || ' ' || sum(v) FROM public.events WHERE id BETWEEN 1000 AND 9000",
                "SELECT count(*) || ' ' || sum(id) FROM public.events WHERE v BETWEEN 10 AND 20",
                "SELECT count(*) || ' ' || sum(id) FROM public.events WHERE k = 3 AND time < '2026-01-04'")) {
            assertEquals(queryThroughIndexes(src, indexed), queryThroughIndexes(dst, indexed), indexed);
        }
        for (String existing : List.of("SELECT time, id, k, v FROM public.events WHERE id = 1500", // compressed on both sides
                "SELECT time, id, k, v FROM public.events WHERE id = 100050", // a partly compressed chunk's uncompressed row
                "SELECT time, id, k, v FROM public.events WHERE id = 10000")) { // an uncompressed chunk
            String insert = "INSERT INTO public.events " + existing;
            assertEquals("23505", uniqueViolation(src, insert), "the source refuses " + insert);
            assertEquals("23505", uniqueViolation(dst, insert), "the target refuses " + insert);
        }
    }

    /** {@code sql}'s one value, read with sequential scans off: through the indexes (of chunks and compressed chunks). */
    private static String queryThroughIndexes(String database, String sql) throws SQLException {
        try (Connection c = connect(database); Statement s = c.createStatement()) {
            s.execute("SET enable_seqscan = off");
            try (ResultSet rs = s.executeQuery(sql)) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /**
     * Checks every btree index of every chunk and compressed chunk with amcheck, including that it holds every row of
     * its table (heapallindexed); a fault fails with amcheck's message. Returns how many were checked.
     */
    private static int checkChunkIndexes(String database) throws SQLException {
        List<Long> indexes = new ArrayList<>();
        try (Connection c = connect(database); Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT c.oid FROM pg_class c JOIN pg_am a ON a.oid = c.relam"
                    + " WHERE c.relkind = 'i' AND a.amname = 'btree' AND c.relnamespace = '_timescaledb_internal'::regnamespace")) {
                while (rs.next()) indexes.add(rs.getLong(1));
            }
            for (long index : indexes) s.execute("SELECT bt_index_check(" + index + ", true)");
        }
        return indexes.size();
    }

    /** The SQLSTATE {@code insert} fails with, or "none". */
    private static String uniqueViolation(String database, String insert) throws SQLException {
        try (Connection c = connect(database); Statement s = c.createStatement()) {
            s.execute(insert);
            return "none";
        } catch (SQLException e) {
            return e.getSQLState();
        }
    }

    /**
     * A continuous aggregate's first refresh on the target aggregates every copied row of its hypertable: it runs as
     * soon as that hypertable is copied, while other tables still copy, not after post-data. The copy is held open on
     * another table (locked on the target); meanwhile the aggregate must be on the target with its rows, and after
     * the cutover it answers as on the source.
     */
    @Test
    void continuousAggregateIsRefreshedWhileOtherTablesStillCopy() throws Exception {
        String src = "ts_caggearly_src", dst = "ts_caggearly_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value float8, PRIMARY KEY (device, time))",
                "SELECT create_hypertable('public.metrics', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.metrics SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g % 5, g FROM generate_series(0, 6 * 1440 - 1) g",
                "ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device')",
                "SELECT compress_chunk(c) FROM show_chunks('public.metrics', older_than => '2026-01-05'::timestamptz) c",
                "CREATE MATERIALIZED VIEW public.metrics_daily WITH (timescaledb.continuous) AS SELECT time_bucket('1 day', time) AS day, device,"
                        + " count(*) AS n, sum(value) AS total FROM public.metrics GROUP BY 1, 2",
                MATERIALIZATION_IDENTITY,
                "CREATE TABLE public.hold (id int PRIMARY KEY)", "INSERT INTO public.hold VALUES (1)");
        Agent agent = new Agent(src, dst);
        String daily = "SELECT count(*) || ' ' || sum(n) || ' ' || sum(total) FROM public.metrics_daily";
        try (Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            Deadline.await("public.hold to exist on the target, to lock it", Duration.ofMinutes(2), () -> lockTable(holder, "public.hold"));
            Deadline.await("public.metrics_daily refreshed on the target while public.hold is not copied yet", Duration.ofSeconds(60),
                    () -> "30 8640 37320480".equals(querySafely(dst, daily)));
            assertEquals("0", query(dst, "SELECT count(*) FROM ferry.copy_progress WHERE table_name = 'hold'"), "the copy is still going");
            holder.rollback();
        }
        agent.awaitStream();
        server.execute(src, "INSERT INTO public.metrics VALUES ('2026-01-07 00:00:30', 9, 1)");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        server.execute(src, "CALL refresh_continuous_aggregate('public.metrics_daily', NULL, NULL)");
        String rows = "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.metrics_daily t";
        assertEquals(query(src, rows), query(dst, rows));
    }

    /** Takes an ACCESS EXCLUSIVE lock on {@code table} in {@code holder}'s open transaction once the table exists. */
    private static boolean lockTable(Connection holder, String table) {
        try (Statement s = holder.createStatement()) {
            s.execute("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE");
            return true;
        } catch (SQLException e) {
            try {
                holder.rollback();
            } catch (SQLException ignored) {
                // the next attempt starts a new transaction either way
            }
            if ("42P01".equals(e.getSQLState())) return false;
            throw new IllegalStateException(e);
        }
    }

    /**
     * ferry killed with SIGKILL twice before it streams: during the hypertable's copy (some units on the target, some
     * not) and while it compresses the copied chunks on the target (some compressed, some not). Each restart converges:
     * the hypertable is copied again whole in a new snapshot, compression goes on from where it stopped, and the target
     * ends with the source's rows and the same chunks compressed.
     */
    @Test
    void killedDuringTheHypertableCopyAndItsCompressionConverges() throws Exception {
        String src = "ts_copykill_src", dst = "ts_copykill_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, v int, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g, g FROM generate_series(0, 30 * 1440 - 1) g",
                // Day chunks under a 2-day interval: the target would cut them otherwise, so ChunkLayout makes them, again after the kill.
                "SELECT set_chunk_time_interval('public.events', interval '2 days')",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = '', timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-21'::timestamptz) c");
        Agent agent = new Agent(src, dst, true);
        String units = "SELECT count(*) || ' ' || max(chunks) FROM ferry.copy_progress WHERE table_name = 'events'";
        try (Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            Deadline.await("a few units of public.events to be copied", Duration.ofMinutes(2), () -> {
                String copied = querySafely(dst, units);
                return copied != null && !copied.startsWith("0 ") && Integer.parseInt(copied.split(" ")[0]) >= 3;
            });
            lockTable(holder, "public.events"); // the units in flight commit, the next ones wait
            String atKill = query(dst, units);
            agent.kill();
            holder.rollback();
            String[] counts = atKill.split(" ");
            assertTrue(Integer.parseInt(counts[0]) < Integer.parseInt(counts[1]), "killed with some units copied and some not: " + atKill);
        }
        agent.restart();
        String compressed = "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'events' AND is_compressed";
        try (Connection holder = connect(dst)) {
            holder.setAutoCommit(false);
            Deadline.await("the restarted agent to finish its copy", Duration.ofMinutes(2), () -> agent.phaseAtLeast(MigrationState.Phase.POST_DATA));
            // Its oldest chunk held on the target, so the compression after the copy stops part way.
            try (Statement s = holder.createStatement()) {
                s.execute("SELECT count(*) FROM public.events WHERE time < '2026-01-02'");
            }
            Deadline.await("a chunk to be compressed on the target", Duration.ofMinutes(2), () -> !"0".equals(querySafely(dst, compressed)));
            String atKill = query(dst, compressed);
            agent.kill();
            holder.rollback();
            assertTrue(Integer.parseInt(atKill) < 20, "killed with some chunks compressed on the target and some not: " + atKill);
        }
        agent.restart();
        agent.awaitStream();
        server.execute(src, "INSERT INTO public.events VALUES ('2026-01-05 00:00:30', 1, 1)", "DELETE FROM public.events WHERE id % 1000 = 0");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = rowsOf("public.events");
        assertEquals(query(src, rows), query(dst, rows));
        String chunks = "SELECT string_agg(format('%s %s', range_start, is_compressed), '; ' ORDER BY range_start) FROM timescaledb_information.chunks";
        assertEquals(query(src, chunks), query(dst, chunks), "the same chunks compressed on both sides");
    }

    /**
     * What a hypertable carries beyond its dimensions and segmentby/orderby: foreign keys from it and to it (pg_dump's
     * ALTER TABLE ONLY is refused on a hypertable), a chunk interval changed after chunks existed, compressed chunks
     * rolled up by compress_chunk_time_interval, and a sparse index setting. The target ends with the same keys, the
     * same chunk ranges compressed alike, and the same settings.
     */
    @Test
    void foreignKeysChangedIntervalsRollupsAndSparseIndexesAreCarried() throws Exception {
        String src = "ts_more_src", dst = "ts_more_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.sites (id int PRIMARY KEY)", "INSERT INTO public.sites SELECT generate_series(0, 3)",
                "CREATE TABLE public.samples (time timestamptz NOT NULL, site int NOT NULL REFERENCES public.sites (id), v int, PRIMARY KEY (site, time))",
                "SELECT create_hypertable('public.samples', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.samples SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g % 4, g FROM generate_series(0, 4 * 24 - 1) g",
                "SELECT set_chunk_time_interval('public.samples', interval '7 days')",
                "INSERT INTO public.samples SELECT '2026-01-05'::timestamptz + g * interval '1 hour', g % 4, g FROM generate_series(0, 40 * 24 - 1) g",
                "ALTER TABLE public.samples SET (timescaledb.compress, timescaledb.compress_segmentby = 'site', timescaledb.compress_orderby = 'time',"
                        + " timescaledb.sparse_index = 'bloom(v)', timescaledb.compress_chunk_time_interval = '14 days')",
                "SELECT compress_chunk(c) FROM show_chunks('public.samples', older_than => '2026-02-05'::timestamptz) c",
                "CREATE TABLE public.notes (site int, time timestamptz, note text, FOREIGN KEY (site, time) REFERENCES public.samples (site, time))",
                "INSERT INTO public.notes VALUES (1, '2026-01-01 01:00', 'a'), (2, '2026-01-20 02:00', 'b')",
                // The columnstore API of 2.18+: a hypertable declared in CREATE TABLE gets a compression policy by itself.
                "CREATE TABLE public.cs (time timestamptz NOT NULL, dev int, v float8) WITH (tsdb.hypertable, tsdb.partition_column = 'time',"
                        + " tsdb.segmentby = 'dev', tsdb.chunk_interval = '1 day')",
                "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE hypertable_name = 'cs'",
                "ALTER TABLE public.cs REPLICA IDENTITY FULL",
                "INSERT INTO public.cs SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g % 3, g FROM generate_series(0, 99) g",
                "SELECT compress_chunk(c) FROM show_chunks('public.cs', older_than => '2026-01-04'::timestamptz) c");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        server.execute(src, "INSERT INTO public.samples VALUES ('2026-01-02 00:30', 3, -1), ('2026-03-01', 0, -2)");
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = rowsOf("public.samples");
        assertEquals(query(src, rows), query(dst, rows));
        String keys = "SELECT string_agg(format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), '; ' ORDER BY conname)"
                + " FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND conparentid = 0"; // not TimescaleDB's per-chunk clones
        assertEquals(query(src, keys), query(dst, keys), "foreign keys from and to the hypertable");
        String chunks = "SELECT string_agg(format('%s %s %s', range_start, range_end, is_compressed), '; ' ORDER BY range_start) FROM timescaledb_information.chunks";
        assertEquals(query(src, chunks), query(dst, chunks), "the same chunk ranges, compressed alike");
        String settings = "SELECT format('%s %s %s', s.index, d.interval_length, d.compress_interval_length) FROM _timescaledb_catalog.compression_settings s,"
                + " _timescaledb_catalog.dimension d JOIN _timescaledb_catalog.hypertable h ON h.id = d.hypertable_id"
                + " WHERE s.relid = 'public.samples'::regclass AND h.table_name = 'samples'";
        assertEquals(query(src, settings), query(dst, settings), "sparse index, chunk interval, compress_chunk_time_interval");
        String jobs = "SELECT string_agg(format('%s %s %s %s', proc_name, hypertable_name, scheduled, config - 'hypertable_id'), '; ' ORDER BY hypertable_name)"
                + " FROM timescaledb_information.jobs WHERE job_id >= 1000";
        assertEquals(query(src, jobs), query(dst, jobs), "the policy CREATE TABLE ... WITH (tsdb.hypertable) added");
        assertEquals(query(src, "SELECT count(*) || ' ' || sum(v) FROM public.cs"), query(dst, "SELECT count(*) || ' ' || sum(v) FROM public.cs"));
    }

    /**
     * Chunks much bigger than their hypertable's others (days of two hundred times the rows): the uncompressed one is
     * cut into time ranges copied in parallel like a big table's page ranges, the compressed one travels whole in
     * compressed form (a unit starting inside it would copy its rows twice), and both arrive whole.
     */
    @Test
    void bigChunkIsSplitAndArrivesWhole() throws Exception {
        String src = "ts_split_src", dst = "ts_split_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, pad text, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g, 'p' FROM generate_series(0, 6 * 24 - 1) g",
                "INSERT INTO public.events SELECT '2026-01-07'::timestamptz + g * interval '4 seconds', 10000 + g, repeat('x', 80)"
                        + " FROM generate_series(0, 2 * 21600 - 1) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = '', timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', newer_than => '2026-01-08'::timestamptz) c");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        int units = Integer.parseInt(query(dst, "SELECT max(chunks) FROM ferry.copy_progress WHERE table_name = 'events'"));
        assertTrue(units > 8, "the big uncompressed chunk cut into several units besides one per chunk: " + units);
        server.execute(src, "DELETE FROM public.events WHERE id % 1000 = 7");
        cutoverAndCompareEvents(agent, src, dst);
    }

    /**
     * A unit of a space-partitioned hypertable holds a chunk per partition: their compressed batches travel one by one
     * and the rows not in a batch (a partly compressed chunk's, an uncompressed chunk's) in one COPY for the unit, and
     * each row arrives once. Read in one UNION ALL without a fence, TimescaleDB read the chunks named with ONLY
     * decompressed as well: every compressed row twice.
     */
    @Test
    void spacePartitionedUnitsCopyEachRowOnce() throws Exception {
        String src = "ts_space_src", dst = "ts_space_dst";
        createDatabases(src, dst);
        server.execute(src, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'",
                "CREATE TABLE public.events (time timestamptz NOT NULL, id int NOT NULL, pad text, PRIMARY KEY (id, time))",
                "SELECT create_hypertable('public.events', 'time', chunk_time_interval => interval '1 day')",
                "SELECT add_dimension('public.events', 'id', number_partitions => 4)",
                "INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g, 'p' FROM generate_series(0, 4 * 1440 - 1) g",
                "ALTER TABLE public.events SET (timescaledb.compress, timescaledb.compress_segmentby = '', timescaledb.compress_orderby = 'time')",
                "SELECT compress_chunk(c) FROM show_chunks('public.events', older_than => '2026-01-04'::timestamptz) c",
                // Written into compressed chunks, these rows stay beside the batches: those chunks are partly compressed.
                "INSERT INTO public.events SELECT '2026-01-01 00:00:30'::timestamptz + g * interval '1 hour', 100000 + g, 'late' FROM generate_series(0, 47) g");
        assertTrue(Integer.parseInt(query(src, "SELECT count(*) FROM _timescaledb_catalog.chunk WHERE status & 8 = 8")) > 0, "partly compressed chunks");
        Agent agent = new Agent(src, dst);
        agent.awaitStream();
        assertEquals(query(src, rowsOf("public.events")), query(dst, rowsOf("public.events")), "copied");
        cutoverAndCompareEvents(agent, src, dst);
    }

    /** A hypertable on an integer column: integer chunk interval, integer-now function, a compression policy by an integer age. */
    @Test
    void integerTimeHypertableMigratesWithItsIntegerNowFunctionAndPolicy() throws Exception {
        String src = "ts_int_src", dst = "ts_int_dst";
        createDatabases(src, dst);
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
        String rows = rowsOf("public.ticks");
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

    /** A source and a target database; the target with this class's TimescaleDB, as a managed service has it. */
    private static void createDatabases(String src, String dst) {
        server.execute("postgres", "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(dst, "CREATE EXTENSION timescaledb VERSION '" + VERSION + "'");
    }

    /** Row count and a digest of every row of {@code table} (read through the hypertable), to compare both sides. */
    /** Cuts over, then requires public.events' rows and which of its chunks are compressed to be the same on both sides. */
    private static void cutoverAndCompareEvents(Agent agent, String src, String dst) throws Exception {
        String summary = agent.cutover();
        assertTrue(summary.contains("migration finished"), summary);
        String rows = rowsOf("public.events");
        assertEquals(query(src, rows), query(dst, rows));
        String compressed = "SELECT string_agg(range_start::text, ' ' ORDER BY range_start) FROM timescaledb_information.chunks WHERE is_compressed";
        assertEquals(query(src, compressed), query(dst, compressed));
    }

    private static String rowsOf(String table) {
        return "SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY t::text)) FROM " + table + " t";
    }

    private static String query(String database, String sql) throws SQLException {
        try (Connection c = connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** {@link #query}, or null while the relation it reads does not exist yet. */
    private static String querySafely(String database, String sql) {
        try {
            return query(database, sql);
        } catch (SQLException e) {
            return null;
        }
    }

    private static Connection connect(String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/" + database + "?user=postgres");
    }

    /** ferry run in a thread of this JVM, or as `ferry run` in a child JVM to be killed, from {@code src} to {@code dst}. */
    private static final class Agent {
        final Database source;
        final Database target;
        final Path logDir;
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
            logDir = logDir(src);
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

        /** Where the agent migrating {@code src} writes its logs. */
        static Path logDir(String src) {
            return Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"), "logs-" + src).toAbsolutePath();
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

        /** Whether the migration's state on the target has reached {@code phase}; false while there is none. */
        boolean phaseAtLeast(MigrationState.Phase phase) {
            if (child != null && !child.isAlive()) throw new AssertionError("ferry run exited with " + child.exitValue());
            try (Connection c = target.open()) {
                return new StateStore().load(c).filter(s -> s.phase().compareTo(phase) >= 0).isPresent();
            } catch (SQLException | RuntimeException e) {
                return false;
            }
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
     * Samples the relation locks ferry's sessions hold on the source every 10 ms (copy workers and slot: application
     * `ferry`; pg_dump: `ferry-schema`) and reports, per session kind and kind of relation, how long the longest was
     * held: the figures in docs/timescaledb.md. A lock held under 10 ms may not be seen.
     */
    private static final class LockSampler implements AutoCloseable {
        private static final String SAMPLE = """
                SELECT a.application_name, l.pid, l.mode, l.relation::regclass::text,
                       CASE WHEN n.nspname <> '_timescaledb_internal' THEN 'table or hypertable'
                            WHEN c.relname LIKE 'compress\\_%' THEN 'compressed chunk' ELSE 'chunk' END
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_class c ON c.oid = l.relation
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE l.locktype = 'relation' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND a.application_name IN ('ferry', 'ferry-schema') AND c.relkind IN ('r', 'p') AND n.nspname IN ('public', '_timescaledb_internal')""";
        /** Per session, mode and relation: start and last sample of the current hold, and the longest hold so far. */
        private final Map<String, long[]> seen = new java.util.concurrent.ConcurrentHashMap<>();
        private final Map<String, String> kinds = new java.util.concurrent.ConcurrentHashMap<>();
        private final Thread thread;
        private volatile boolean running = true;

        LockSampler(String database) {
            thread = new Thread(() -> {
                try (Connection c = connect(database); Statement s = c.createStatement()) {
                    long previous = 0;
                    while (running) {
                        long now = System.nanoTime();
                        try (ResultSet rs = s.executeQuery(SAMPLE)) {
                            while (rs.next()) {
                                String key = rs.getString(1) + " " + rs.getLong(2) + " " + rs.getString(3) + " " + rs.getString(4);
                                kinds.putIfAbsent(key, rs.getString(1) + ", " + rs.getString(3) + " on a " + rs.getString(5));
                                long[] hold = seen.computeIfAbsent(key, k -> new long[] {now, now, 0});
                                // Not seen in the sample before: released and taken again (a hypertable, unit after unit).
                                if (hold[1] != previous && hold[1] != now) hold[0] = now;
                                hold[1] = now;
                                hold[2] = Math.max(hold[2], hold[1] - hold[0]);
                            }
                        }
                        previous = now;
                        java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            }, "test-lock-sampler");
            thread.start();
        }

        /** Prints, per kind, how many relations were locked and the longest hold in ms. */
        void report() {
            Map<String, long[]> byKind = new java.util.TreeMap<>();
            seen.forEach((key, hold) -> {
                long[] agg = byKind.computeIfAbsent(kinds.get(key), k -> new long[2]);
                agg[0]++;
                agg[1] = Math.max(agg[1], hold[2]);
            });
            byKind.forEach((kind, agg) -> System.out.printf("source locks: %s: %d held, longest %.0f ms%n", kind, agg[0], agg[1] / 1e6));
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(Duration.ofSeconds(10).toMillis());
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
