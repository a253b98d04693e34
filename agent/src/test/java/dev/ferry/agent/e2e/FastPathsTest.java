package dev.ferry.agent.e2e;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The speed-ups leave the target exactly like the source: a split table's parallel copy, batching, coalescing. */
@Timeout(240)
class FastPathsTest extends TwoServers {
    @Test
    void bigTableSplitIntoPageRangesIsCopiedInParallelIdentically() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "split");
        source.execute("split", "CREATE TABLE public.big (id bigint PRIMARY KEY, payload text)",
                "INSERT INTO public.big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 300000) g",
                "DELETE FROM public.big WHERE id % 7 = 0", // holes in the pages, so ranges are uneven
                "CREATE TABLE public.small (id int PRIMARY KEY)", "INSERT INTO public.small SELECT generate_series(1, 10)");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        awaitStreaming(migration, agent);
        source.execute("split", "UPDATE public.big SET payload = 'changed' WHERE id % 1000 = 1");
        migration.cutover(Duration.ofSeconds(90));
        agent.awaitSummary(Duration.ofSeconds(30));

        long chunks = Long.parseLong(target.queryValue("split", "SELECT count(*) FROM ferry.copy_progress WHERE table_name = 'big'"));
        assertTrue(chunks > 2, "the big table was copied in " + chunks + " page ranges");
        assertTrue(migration.log("snapshot.log").contains("copying 2 tables (" + (chunks + 1) + " chunks"), migration.log("snapshot.log"));
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        // The table copied whole was loaded frozen: ANALYZE finds every page all-visible without a VACUUM.
        target.execute("split", "ANALYZE public.small");
        assertEquals("1 1", target.queryValue("split", "SELECT relpages || ' ' || relallvisible FROM pg_class WHERE oid = 'public.small'::regclass"));
    }

    @Test
    void batchedTransactionsWithHotKeysAndUniqueSwapsEndIdentical() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "batched");
        source.execute("batched", "CREATE TABLE public.counters (id int PRIMARY KEY, n bigint NOT NULL)",
                "INSERT INTO public.counters SELECT g, 0 FROM generate_series(1, 5) g",
                // A second unique constraint: ferry must keep this table's changes in order, never coalesce them.
                "CREATE TABLE public.people (id int PRIMARY KEY, email text NOT NULL UNIQUE)",
                "INSERT INTO public.people VALUES (1, 'a@x'), (2, 'b@x')");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
        awaitStreaming(migration, agent);
        try (Connection c = migration.source.open(); Statement s = c.createStatement()) {
            for (int i = 0; i < 3000; i++) {
                s.execute("UPDATE public.counters SET n = n + 1 WHERE id = " + (1 + i % 5));
                if (i % 10 == 0) {
                    // Swap two unique values through a temporary one, in one transaction.
                    s.execute("BEGIN; UPDATE public.people SET email = 'tmp' WHERE id = 1; UPDATE public.people SET email = 'a@x' WHERE id = 2;"
                            + " UPDATE public.people SET email = 'b@x' WHERE id = 1; COMMIT;");
                    s.execute("BEGIN; UPDATE public.people SET email = 'tmp' WHERE id = 2; UPDATE public.people SET email = 'b@x' WHERE id = 1;"
                            + " UPDATE public.people SET email = 'a@x' WHERE id = 2; COMMIT;");
                }
            }
        }
        migration.cutover(Duration.ofSeconds(90));
        agent.awaitSummary(Duration.ofSeconds(30));

        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        assertEquals("3000", target.queryValue("batched", "SELECT sum(n) FROM public.counters"));
        Matcher drained = Pattern.compile("(\\d+) source transactions, \\d+ changes applied since this start, in (\\d+) target transactions, (\\d+) upserts coalesced")
                .matcher(migration.log("stream.log"));
        assertTrue(drained.find(), migration.log("stream.log"));
        long sourceTransactions = Long.parseLong(drained.group(1));
        long targetTransactions = Long.parseLong(drained.group(2));
        long coalesced = Long.parseLong(drained.group(3));
        assertTrue(targetTransactions < sourceTransactions / 5, sourceTransactions + " source transactions in " + targetTransactions + " target transactions");
        assertTrue(coalesced > 0, "hot counters were coalesced");
    }

    @Test
    void binaryCopyOfBuiltInTypesAndLz4ToastEndIdentical() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "binary");
        source.execute("binary", "CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')",
                // OIDs differ between servers: a regclass must travel by name, never as its binary OID.
                "CREATE TABLE public.big_names (id int PRIMARY KEY)", "CREATE TABLE public.padding (id int)", "DROP TABLE public.padding",
                """
                CREATE TABLE public.typed (id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric(20, 5), nn numeric, f4 real, f8 double precision,
                    t text, vc varchar(20), ch char(5), b bytea, j json, jb jsonb, ts timestamp, tz timestamptz, d date, tm time, ttz timetz,
                    iv interval, u uuid, ip inet, net cidr, mac macaddr, ok boolean, ia int[], ta text[], p point, tv tsvector, m money,
                    bits bit varying(8), x xml, r int4range, doc text)""",
                """
                INSERT INTO public.typed SELECT g, g % 32000, g::bigint * 1000000007, g / 7.0, CASE g % 3 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' ELSE '-1e-30' END::numeric,
                    g / 3.0, CASE WHEN g % 5 = 0 THEN 'Infinity'::float8 ELSE g * 1.5e300 END,
                    'Ünïcode "q" \\ tab	' || g, 'v' || g, 'c', decode(md5(g::text), 'hex'), '{"a": [1, 2.50]}', jsonb_build_object('k', g, 'z', null),
                    timestamp '2024-02-29 23:59:59.123456' + g * interval '1 hour', timestamptz 'infinity', date '0044-03-15 BC', time '24:00', timetz '12:00+05:30',
                    interval '1 year 2 mons -3 days 04:05:06.7', md5(g::text)::uuid, '2001:db8::1/64', '10.0.0.0/8', '08:00:2b:01:02:03', g % 2 = 0,
                    ARRAY[g, NULL, -g], ARRAY['a b', NULL, '"']::text[], point(g, -g), to_tsvector('simple', 'fat cats ' || g), g * 1.25, B'1011', '<a>x</a>'::xml,
                    int4range(g, g + 10), CASE WHEN g % 10 = 0 THEN repeat(md5(g::text), 2000) END
                FROM generate_series(1, 2000) g""",
                "INSERT INTO public.typed (id) VALUES (0)",
                "CREATE TABLE public.refs (id int PRIMARY KEY, rc regclass, rt regtype[])",
                "INSERT INTO public.refs VALUES (1, 'public.big_names', ARRAY['public.mood', 'int4']::regtype[])",
                "CREATE TABLE public.moods (id int PRIMARY KEY, m public.mood)",
                "INSERT INTO public.moods SELECT g, (ARRAY['sad', 'ok', 'happy']::public.mood[])[1 + g % 3] FROM generate_series(1, 100) g");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        awaitStreaming(migration, agent);
        migration.cutover(Duration.ofSeconds(90));
        agent.awaitSummary(Duration.ofSeconds(30));

        String snapshotLog = migration.log("snapshot.log");
        assertTrue(Pattern.compile("\"typed\" \\(\"id\", \"i2\"[^)]*\\) FROM STDIN \\(FORMAT binary, FREEZE\\)\n").matcher(snapshotLog).find(),
                "built-in types go in binary, the whole table frozen:\n" + snapshotLog);
        assertTrue(Pattern.compile("\"moods\" \\([^)]*\\) FROM STDIN \\(FREEZE\\)\n").matcher(snapshotLog).find(), "a user-defined enum goes as text:\n" + snapshotLog);
        assertTrue(Pattern.compile("\"refs\" \\([^)]*\\) FROM STDIN \\(FREEZE\\)\n").matcher(snapshotLog).find(), "regclass goes as text:\n" + snapshotLog);
        // Where the target server was built without lz4, its default stays.
        boolean lz4 = Boolean.parseBoolean(target.queryValue("binary",
                "SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'").replace("t", "true").replace("f", "false"));
        assertEquals(lz4 ? "lz4" : "pglz", target.queryValue("binary", "SELECT pg_column_compression(doc) FROM public.typed WHERE id = 10"));
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        assertEquals("big_names {mood,integer}", target.queryValue("binary", "SELECT rc::text || ' ' || rt::text FROM public.refs"));
    }

    @Test
    void manyInsertedRowsGoByCopyAndAKeyAlreadyOnTheTargetFallsBackToUpserts() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "bulk");
        source.execute("bulk", "CREATE TABLE public.keyed (id int PRIMARY KEY, t text, n numeric, b bytea, at timestamptz, tags text[])",
                "CREATE TABLE public.keyless (t text, n int)");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
        awaitStreaming(migration, agent);
        String rows = """
                SELECT g, CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN E'tab\\there\\nnew line' WHEN 2 THEN E'back\\\\slash \\\\N' WHEN 3 THEN 'Ünïcode ✓' ELSE '' END,
                    g / 7.0, decode(md5(g::text), 'hex'), timestamptz '2024-02-29 12:00+00' + g * interval '1 minute', ARRAY['a' || g, NULL, E'q"\\\\']
                FROM generate_series(FIRST, LAST) g""";
        source.execute("bulk", "INSERT INTO public.keyed " + rows.replace("FIRST", "1").replace("LAST", "1000"),
                "INSERT INTO public.keyless SELECT CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN E'\\\\N' WHEN 2 THEN E'cr\\rlf\\n' ELSE 'plain' END, g"
                        + " FROM generate_series(1, 1000) g");
        Deadline.await("the first bulk insert applied", Duration.ofSeconds(60),
                () -> "1000".equals(target.queryValue("bulk", "SELECT count(*) FROM public.keyless")) && "1000".equals(target.queryValue("bulk", "SELECT count(*) FROM public.keyed")));
        // A row written on the target by hand holds a key the source inserts next: COPY must give way to upserts. The
        // key comes early in 5,000 rows sent in several pieces, so the target may report it while ferry still sends.
        target.execute("bulk", "INSERT INTO public.keyed (id, t) VALUES (1002, 'written on the target')");
        source.execute("bulk", "INSERT INTO public.keyed " + rows.replace("FIRST", "1001").replace("LAST", "6000"));
        migration.cutover(Duration.ofSeconds(90));
        agent.awaitSummary(Duration.ofSeconds(30));

        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        String streamLog = migration.log("stream.log");
        Matcher drained = Pattern.compile("(\\d+) rows written by COPY").matcher(streamLog);
        assertTrue(drained.find(), streamLog);
        assertEquals(2000, Long.parseLong(drained.group(1)), "both first bulk inserts, not the one that met a key on the target:\n" + streamLog);
        assertTrue(streamLog.contains("\"public\".\"keyed\": 5000 inserted rows were upserted instead of copied"), streamLog);
    }

    @Test
    void aBatchTheTargetRejectsStopsTheStreamNamingItsTable() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "rejected");
        source.execute("rejected", "CREATE TABLE public.readings (id int PRIMARY KEY, v int)");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 1));
        awaitStreaming(migration, agent);
        // A rule only the target has: the third batch of 5,000 rows breaks it, in the middle of the source transaction.
        target.execute("rejected", "ALTER TABLE public.readings ADD CONSTRAINT v_small CHECK (v < 12000)");
        source.execute("rejected", "INSERT INTO public.readings SELECT g, g FROM generate_series(1, 30000) g");
        Deadline.await("the agent stops", Duration.ofSeconds(60), () -> agent.outcome.get() instanceof Throwable);

        Throwable failure = (Throwable) agent.outcome.get();
        String message = failure instanceof FerryException f ? f.describe() : failure.toString();
        assertTrue(message.contains("applying changes to \"public\".\"readings\" failed on the target") && message.contains("v_small"), message);
        assertEquals("0", target.queryValue("rejected", "SELECT count(*) FROM public.readings"), "nothing of the rejected transaction is committed");
    }

    private static void awaitStreaming(MigrationFixture migration, MigrationFixture.InProcessAgent agent) {
        Deadline.await("streaming", Duration.ofSeconds(120), () -> {
            agent.failIfDead();
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
    }
}
