package dev.ferry.agent.e2e;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DDL on the source during the stream, under a live writer: added columns and new tables are followed, other changes
 * stop the stream with the SQL to run on the target, and `ferry run` resumes after it. Each test ends with a cutover
 * and a row-by-row comparison.
 */
@Timeout(300)
class SchemaDriftTest extends TwoServers {
    private static final String TABLES = """
            CREATE TABLE public.a (id bigint PRIMARY KEY, v int, note text);
            CREATE TABLE public.b (id bigint PRIMARY KEY, v int);
            INSERT INTO public.a SELECT g, g, 'row ' || g FROM generate_series(1, 500) g;
            INSERT INTO public.b SELECT g, g FROM generate_series(1, 500) g;
            """;

    /** @param more SQL run on the source after {@link #TABLES}, before the agent starts */
    private static MigrationFixture.InProcessAgent streaming(MigrationFixture migration, String... more) {
        source.execute(migration.database, TABLES);
        source.execute(migration.database, more);
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        agent.awaitStreaming(Duration.ofMinutes(2));
        return agent;
    }

    private static void cutoverAndCompare(MigrationFixture migration, MigrationFixture.InProcessAgent agent) throws Exception {
        String summary = migration.cutover(Duration.ofMinutes(2));
        assertTrue(summary.contains("migration finished"), summary);
        assertEquals(summary, agent.awaitSummary(Duration.ofSeconds(60)));
        ComparisonResult result = migration.compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
    }

    @Test
    void columnsAddedOnTheSourceAreAddedOnTheTargetWithTheSourcesValues() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "drift_columns");
        source.execute("drift_columns", """
                CREATE TABLE public.p (id bigint PRIMARY KEY, v int) PARTITION BY RANGE (id);
                CREATE TABLE public.p_low PARTITION OF public.p FOR VALUES FROM (MINVALUE) TO (1000000);
                CREATE TABLE public.p_high PARTITION OF public.p FOR VALUES FROM (1000000) TO (MAXVALUE);
                INSERT INTO public.p SELECT g, g FROM generate_series(1, 100) g;
                """);
        MigrationFixture.InProcessAgent agent = streaming(migration, """
                CREATE TABLE public.b_child (id bigint PRIMARY KEY, b_id bigint NOT NULL REFERENCES public.b (id));
                INSERT INTO public.b_child SELECT g, g FROM generate_series(1, 10) g;
                """);
        try (TableWriter writer = new TableWriter(migration.source::open, "public.a", "public.b", "public.p")) {
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_columns",
                    // added at the root of a partition tree, as on the source
                    "ALTER TABLE public.p ADD COLUMN tag text DEFAULT 'tagged'",
                    // constant defaults: every existing row takes the same value, on the target too
                    "ALTER TABLE public.a ADD COLUMN c int NOT NULL DEFAULT 7",
                    "ALTER TABLE public.a ADD COLUMN added_at timestamptz DEFAULT now()",
                    "ALTER TABLE public.a ADD COLUMN plain text");
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_columns",
                    // each existing row gets its own value: the table is copied again (emptied by DELETE: b_child refers to it)
                    "ALTER TABLE public.b ADD COLUMN r double precision DEFAULT random()",
                    "ALTER TABLE public.b ADD COLUMN twice bigint GENERATED ALWAYS AS (id * 2) STORED",
                    "ALTER TABLE public.b ADD COLUMN k bigint GENERATED ALWAYS AS IDENTITY");
            writer.awaitMore(200, Duration.ofMinutes(2));
            Deadline.await("b's copy done again", Duration.ofMinutes(1), () -> {
                agent.failIfDead();
                return following(migration, "b");
            });
            writer.awaitMore(50, Duration.ofMinutes(1));
        }
        cutoverAndCompare(migration, agent);
        String log = migration.log("stream.log");
        assertTrue(log.contains("added column \"c\" to \"public\".\"a\" on the target"), log);
        assertTrue(log.contains("\"public\".\"b\" is copied again in a new snapshot"), log);
        assertEquals("7", target.queryValue("drift_columns", "SELECT DISTINCT c FROM public.a WHERE id <= 500"));
        assertEquals("tagged", target.queryValue("drift_columns", "SELECT DISTINCT tag FROM public.p WHERE id <= 100"));
        assertEquals("a", target.queryValue("drift_columns", "SELECT attidentity FROM pg_attribute WHERE attrelid = 'public.b'::regclass AND attname = 'k'"),
                "identity ALWAYS again after the cutover");
    }

    @Test
    void aTableCreatedOnTheSourceIsCreatedCopiedAndFollowed() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "drift_tables");
        MigrationFixture.InProcessAgent agent = streaming(migration);
        try (TableWriter writer = new TableWriter(migration.source::open, "public.a")) {
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_tables",
                    "CREATE TABLE public.fresh (id bigint PRIMARY KEY, v int, tag text DEFAULT 'new', seq serial)",
                    "INSERT INTO public.fresh (id, v) SELECT g, g FROM generate_series(1, 300) g",
                    "CREATE TABLE public.fresh_log (at timestamptz DEFAULT now(), line text)",
                    "INSERT INTO public.fresh_log (line) SELECT 'line ' || g FROM generate_series(1, 20) g");
            writer.add("public.fresh");
            Deadline.await("the new table to be followed", Duration.ofMinutes(1), () -> {
                agent.failIfDead();
                return following(migration, "fresh");
            });
            writer.awaitMore(200, Duration.ofMinutes(1));
            source.execute("drift_tables", "INSERT INTO public.fresh_log (line) VALUES ('after the copy')");

            // Not followed: said when it appears, with the command. Dropped again so the databases can be compared.
            source.execute("drift_tables", "CREATE TABLE public.parts (id bigint PRIMARY KEY) PARTITION BY RANGE (id)",
                    "CREATE TABLE public.parts_1 PARTITION OF public.parts FOR VALUES FROM (0) TO (100)", "INSERT INTO public.parts VALUES (1)");
            Deadline.await("the new partitioned table to be reported", Duration.ofMinutes(1), () -> {
                agent.failIfDead();
                return migration.log("stream.log").contains("table \"public\".\"parts\" appeared on the source during the migration and is not followed:"
                        + " it is a partitioned table. To migrate it: after the cutover, with the application stopped, pg_dump -t '\"public\".\"parts\"'");
            });
            source.execute("drift_tables", "DROP TABLE public.parts");
        }
        cutoverAndCompare(migration, agent);
        assertEquals("21", target.queryValue("drift_tables", "SELECT count(*) FROM public.fresh_log"), "an insert-only new table");
        assertTrue(migration.log("stream.log").contains("no tuple identifier for UPDATE/DELETE in table \"public\".\"fresh_log\""));
    }

    @Test
    void aRenamedOrRetypedColumnOrRenamedTablePausesWithTheSqlAndRunResumesAfterIt() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "drift_pause");
        source.execute("drift_pause", "CREATE TABLE public.c (id int PRIMARY KEY)", "INSERT INTO public.c VALUES (1)");
        MigrationConfig config = migration.config(MigrationConfig.SchemaMode.COPY, 2);
        MigrationFixture.InProcessAgent agent = streaming(migration);
        // b before a: the RELATION message of a changed a comes after rows of b in the same transaction, so the stop
        // cannot simply commit what came before it when earlier transactions share its target transaction.
        try (TableWriter writer = new TableWriter(migration.source::open, "public.b", "public.a")) {
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_pause", "ALTER TABLE public.a RENAME COLUMN note TO remark");
            FerryException renamed = pausedWith(agent);
            assertTrue(renamed.what().contains("\"public\".\"a\" changed on the source: it has column \"remark\" where the target has \"note\""), renamed.describe());
            String rename = "ALTER TABLE \"public\".\"a\" RENAME COLUMN \"note\" TO \"remark\";";
            assertTrue(renamed.fix().contains(rename), renamed.describe());
            target.execute("drift_pause", rename);

            agent = migration.startInProcess(config);
            agent.awaitStreaming(Duration.ofMinutes(1));
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_pause", "INSERT INTO public.c VALUES (2)");
            Deadline.await("c's row on the target", Duration.ofMinutes(1), () -> "2".equals(target.queryValue("drift_pause", "SELECT count(*) FROM public.c")));
            source.execute("drift_pause", "ALTER TABLE public.c RENAME TO c_renamed", "INSERT INTO public.c_renamed VALUES (3)");
            FerryException renamedTable = pausedWith(agent);
            String renameTable = "ALTER TABLE \"public\".\"c\" RENAME TO \"c_renamed\";";
            assertTrue(renamedTable.fix().contains(renameTable), renamedTable.describe());
            target.execute("drift_pause", renameTable);

            agent = migration.startInProcess(config);
            agent.awaitStreaming(Duration.ofMinutes(1));
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_pause", "ALTER TABLE public.a ALTER COLUMN v TYPE bigint");
            FerryException retyped = pausedWith(agent);
            String retype = "ALTER TABLE \"public\".\"a\" ALTER COLUMN \"v\" TYPE bigint USING \"v\"::bigint;";
            assertTrue(retyped.fix().contains(retype), retyped.describe());
            target.execute("drift_pause", retype);

            agent = migration.startInProcess(config);
            agent.awaitStreaming(Duration.ofMinutes(1));
            writer.awaitMore(100, Duration.ofMinutes(1));
        }
        cutoverAndCompare(migration, agent);
    }

    /** Whether stream.log says the table is copied (again) and followed. */
    private static boolean following(MigrationFixture migration, String table) {
        return Pattern.compile("now following [^\n]*\"public\"\\.\"" + table + "\"").matcher(migration.log("stream.log")).find();
    }

    private static FerryException pausedWith(MigrationFixture.InProcessAgent agent) {
        Deadline.await("the agent to stop on the changed table", Duration.ofMinutes(1), () -> agent.outcome.get() instanceof Throwable);
        return assertInstanceOf(FerryException.class, agent.outcome.get());
    }

    /**
     * A kill -9 right after a column with a volatile default is added on the target (the copy of the table done again
     * is under way or about to be), then DDL while no agent runs: the restarted agent finishes both.
     */
    @Test
    void killedBetweenSourceDdlAndItsApplicationConverges() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "drift_killed");
        source.execute("drift_killed", TABLES, "INSERT INTO public.b SELECT g, g FROM generate_series(501, 200000) g");
        List<Process> agents = new ArrayList<>();
        try (TableWriter writer = new TableWriter(migration.source::open, "public.a", "public.b")) {
            Process first = migration.startChild(2, "copy");
            agents.add(first);
            Deadline.await("the agent to stream", Duration.ofMinutes(2), () -> {
                if (!first.isAlive()) throw new AssertionError("the agent exited with " + first.exitValue() + "; see " + migration.logDir);
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            });
            writer.awaitMore(50, Duration.ofMinutes(1));
            source.execute("drift_killed", "ALTER TABLE public.b ADD COLUMN r double precision DEFAULT random()");
            Deadline.await("the column on the target", Duration.ofMinutes(1), () -> "1".equals(target.queryValue("drift_killed",
                    "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.b'::regclass AND attname = 'r'")));
            first.destroyForcibly();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            // While no agent runs: more DDL, and the writer goes on.
            source.execute("drift_killed", "ALTER TABLE public.a ADD COLUMN c int DEFAULT 3",
                    "CREATE TABLE public.fresh (id bigint PRIMARY KEY, v int)", "INSERT INTO public.fresh SELECT g, g FROM generate_series(1, 100) g");
            writer.add("public.fresh");
            writer.awaitMore(100, Duration.ofMinutes(1));

            Process second = migration.startChild(2, "copy");
            agents.add(second);
            Deadline.await("the restarted agent to follow the new table", Duration.ofMinutes(2), () -> {
                if (!second.isAlive()) throw new AssertionError("the restarted agent exited with " + second.exitValue() + "; see " + migration.logDir);
                return following(migration, "fresh");
            });
            writer.awaitMore(100, Duration.ofMinutes(1));
            String summary;
            writer.close();
            summary = migration.cutover(Duration.ofMinutes(2));
            assertTrue(summary.contains("migration finished"), summary);
            assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
            assertEquals(0, second.exitValue());
        } finally {
            agents.forEach(Process::destroyForcibly); // a failed test leaves no agent behind
        }
        ComparisonResult result = migration.compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
    }
}
