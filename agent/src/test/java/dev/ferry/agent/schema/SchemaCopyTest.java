package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.tools.PgDumpTool;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.DatabaseComparison;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pg_dump/pg_restore of the sample database between two real servers, including reruns after interruptions. */
@Timeout(300)
class SchemaCopyTest {
    private static final String SOURCE_DB = "shop";
    private static TestPostgres source;
    private static TestPostgres target;

    @TempDir
    Path workDir;

    @BeforeAll
    static void startServers() throws Exception {
        source = TestPostgres.start();
        target = TestPostgres.start();
        source.createDatabase(SOURCE_DB);
        try (Connection c = source.connect(SOURCE_DB)) {
            SampleDatabase.create(c, 300);
        }
        // What a migration adds to the source, none of which belongs on the target; plus an extension and objects
        // only the post-data section carries.
        source.execute(SOURCE_DB,
                "CREATE SCHEMA ferry", "CREATE TABLE ferry.progress (id int PRIMARY KEY)",
                "CREATE PUBLICATION ferry_shop_pub FOR TABLE app.orders",
                "CREATE EXTENSION pg_trgm",
                "CREATE INDEX customers_name_trgm_idx ON app.customers USING gin (name gin_trgm_ops)",
                "CREATE STATISTICS app.orders_customer_status ON customer_id, status FROM app.orders",
                "CREATE RULE settings_no_delete_of_key0 AS ON DELETE TO app.settings WHERE old.key = 'key.0' DO INSTEAD NOTHING",
                "COMMENT ON INDEX app.orders_open_idx IS 'open orders only'",
                "CREATE MATERIALIZED VIEW app.orders_per_status AS SELECT status, count(*) AS orders FROM app.orders GROUP BY status",
                // A view that can only be defined once the primary key exists: pg_dump creates a stub view returning
                // NULLs in pre-data and replaces it with CREATE OR REPLACE VIEW (its _RETURN rule) in post-data.
                "CREATE VIEW app.order_totals AS SELECT o.id, o.status, sum(l.amount) AS amount FROM app.orders o "
                        + "JOIN app.order_lines l ON l.order_id = o.id GROUP BY o.id",
                // Settings pg_dump writes into an index's or key's own entry, which early builds do not run.
                "CREATE TABLE app.labels (id int NOT NULL, code text NOT NULL CONSTRAINT labels_code_key UNIQUE, label text)",
                "CREATE UNIQUE INDEX labels_id ON app.labels (id)",
                "ALTER TABLE app.labels REPLICA IDENTITY USING INDEX labels_id",
                "ALTER TABLE app.labels CLUSTER ON labels_code_key",
                "CREATE INDEX labels_lower_label ON app.labels (lower(label))",
                "ALTER INDEX app.labels_lower_label ALTER COLUMN 1 SET STATISTICS 300",
                "INSERT INTO app.labels VALUES (1, 'a', 'A'), (2, 'b', 'B')",
                "CREATE TABLE app.coded (code text NOT NULL CONSTRAINT coded_pkey PRIMARY KEY, n int NOT NULL CONSTRAINT coded_n_key UNIQUE)",
                "ALTER TABLE app.coded REPLICA IDENTITY USING INDEX coded_n_key",
                "ALTER TABLE app.coded CLUSTER ON coded_pkey",
                // A partitioned table's trigger is cloned to its partitions; a clone's state of its own is a TOC entry
                // holding only ALTER TABLE ... DISABLE TRIGGER.
                "CREATE TRIGGER events_unchanged BEFORE UPDATE ON app.events FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
                "ALTER TABLE app.events_2024 DISABLE TRIGGER events_unchanged",
                // Database settings: pg_dump writes them only with --create, as ALTER DATABASE with the source's name.
                "ALTER DATABASE " + SOURCE_DB + " SET search_path = app, \"$user\", public",
                "ALTER DATABASE " + SOURCE_DB + " SET \"app.flavour\" = 'vanilla, \"quoted\" ''and'' \\ more'",
                "ALTER DATABASE " + SOURCE_DB + " SET work_mem = '8MB'",
                "ALTER DATABASE " + SOURCE_DB + " SET statement_timeout = '1min'");
    }

    @AfterAll
    static void stopServers() {
        if (source != null) source.close();
        if (target != null) target.close();
    }

    private MigrationConfig config(String targetDb) {
        return config(targetDb, Set.of());
    }

    private MigrationConfig config(String targetDb, Set<QualifiedName> excludeTables) {
        return new MigrationConfig(ConnectionSpec.parse("source", source.uri(SOURCE_DB)), ConnectionSpec.parse("target", target.uri(targetDb)),
                2, workDir, workDir, MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP, "ferry_shop",
                Set.of(), excludeTables, 0, Duration.ofSeconds(10));
    }

    @Test
    void preDataThenDataThenPostDataReproducesTheSchema() throws Exception {
        String db = target.createDatabase("full_copy");
        SchemaCopy copy = new SchemaCopy(config(db));
        copy.copyPreData(Optional.empty());
        assertEquals("0", target.queryValue(db, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'app'"), "indexes wait for post-data");
        assertNull(target.queryValue(db, "SELECT nspname FROM pg_namespace WHERE nspname = 'ferry'"));
        copyData(db);
        copy.copyPostData();

        assertEquals(schemaOf(source, SOURCE_DB), schemaOf(target, db));
        assertEquals("0", target.queryValue(db, "SELECT count(*) FROM pg_publication"));
        assertEquals(source.query(SOURCE_DB, "SELECT * FROM app.orders_per_status ORDER BY 1"),
                target.query(db, "SELECT * FROM app.orders_per_status ORDER BY 1"), "materialized view refreshed on the target");
        try (Connection a = source.connect(SOURCE_DB); Connection b = target.connect(db)) {
            ComparisonResult result = DatabaseComparison.compare(a, b);
            assertTrue(result.identical(), result.toString());
        }
    }

    @Test
    void excludedTablesStayOutAndForeignKeysToThemAreSkipped() throws Exception {
        String db = target.createDatabase("excluded");
        SchemaCopy copy = new SchemaCopy(config(db, Set.of(QualifiedName.parse("app.products"),
                new QualifiedName("Ünïcode Schema", "Order \"Items\""))));
        copy.copyPreData(Optional.empty());
        copy.copyPostData();
        assertEquals(List.of(List.of("Ünïcode Schema")), target.query(db, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'Ü%'"));
        assertEquals("0", target.queryValue(db, "SELECT count(*) FROM pg_class WHERE relname IN ('products', 'Order \"Items\"')"));
        assertEquals(List.of(List.of("order_lines_order_id_fkey"), List.of("order_lines_pkey")),
                target.query(db, "SELECT conname FROM pg_constraint WHERE conrelid = 'app.order_lines'::regclass ORDER BY 1"));
    }

    @Test
    void preDataSeesTheSchemaAsOfTheSnapshot() throws Exception {
        String db = target.createDatabase("at_snapshot");
        try (Connection holder = source.connect(SOURCE_DB); Statement s = holder.createStatement()) {
            holder.setAutoCommit(false);
            s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
            ResultSet rs = s.executeQuery("SELECT pg_export_snapshot()");
            rs.next();
            String snapshot = rs.getString(1);
            source.execute(SOURCE_DB, "CREATE TABLE app.created_after_snapshot (id int)");
            try {
                new SchemaCopy(config(db)).copyPreData(Optional.of(snapshot));
            } finally {
                holder.rollback();
                source.execute(SOURCE_DB, "DROP TABLE app.created_after_snapshot");
            }
        }
        assertEquals("t", target.queryValue(db, "SELECT to_regclass('app.orders') IS NOT NULL"));
        assertEquals("t", target.queryValue(db, "SELECT to_regclass('app.created_after_snapshot') IS NULL"));
    }

    @Test
    void preDataRunsAgainAfterCompleting() throws Exception {
        String db = target.createDatabase("pre_twice");
        SchemaCopy copy = new SchemaCopy(config(db));
        copy.copyPreData(Optional.empty());
        copy.copyPreData(Optional.empty());
        assertEquals(preDataOf(source, SOURCE_DB), preDataOf(target, db));
    }

    @Test
    void failedPreDataLeavesNothingAndRunsAgain() throws Exception {
        String db = target.createDatabase("pre_failed");
        // A type named like a table of the dump: the restore fails part-way, after creating types, functions and tables.
        target.execute(db, "CREATE SCHEMA app", "CREATE TYPE app.settings AS ENUM ('x')");
        SchemaCopy copy = new SchemaCopy(config(db));
        FerryException failure = assertThrows(FerryException.class, () -> copy.copyPreData(Optional.empty()));
        assertTrue(failure.why().contains("settings"), failure.describe());
        assertEquals("0", target.queryValue(db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE n.nspname IN ('app', 'Ünïcode Schema') AND c.relkind IN ('r', 'p')"), "one transaction: nothing was left");

        target.execute(db, "DROP TYPE app.settings");
        copy.copyPreData(Optional.empty());
        assertEquals(preDataOf(source, SOURCE_DB), preDataOf(target, db));
    }

    @Test
    void preDataRefusesToDropRowsOnTheTarget() {
        String db = target.createDatabase("pre_with_rows");
        SchemaCopy copy = new SchemaCopy(config(db));
        copy.copyPreData(Optional.empty());
        target.execute(db, "INSERT INTO app.settings VALUES ('k', 'v')");
        FerryException refused = assertThrows(FerryException.class, () -> copy.copyPreData(Optional.empty()));
        assertEquals("the target already holds rows in \"app\".\"settings\".", refused.what());
        assertEquals(ExitCode.BAD_INPUT, refused.exitCode());
        assertEquals("1", target.queryValue(db, "SELECT count(*) FROM app.settings"));
    }

    @Test
    void anExtensionTheTargetHasInAnotherSchemaIsRefusedBeforeAnythingIsCreated() {
        String db = target.createDatabase("ext_elsewhere");
        target.execute(db, "CREATE SCHEMA elsewhere", "CREATE EXTENSION pg_trgm SCHEMA elsewhere");
        FerryException refused = assertThrows(FerryException.class, () -> new SchemaCopy(config(db)).copyPreData(Optional.empty()));
        assertEquals("extension \"pg_trgm\" is in schema \"elsewhere\" on the target, but in \"public\" on the source.", refused.what());
        assertTrue(refused.fix().contains("ALTER EXTENSION \"pg_trgm\" SET SCHEMA \"public\""), refused.fix());
        assertEquals(ExitCode.BAD_INPUT, refused.exitCode());
        assertEquals("0", target.queryValue(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'"), "nothing was created");
    }

    @Test
    void postDataRunsAgainAndBuildsOnlyWhatIsMissing() throws Exception {
        String db = target.createDatabase("post_twice");
        SchemaCopy copy = withPreDataAndRows(db);
        copy.copyPostData();
        // What an interruption part-way through post-data leaves: some objects built, others not.
        target.execute(db, "DROP INDEX app.orders_customer_idx", "ALTER TABLE app.order_lines DROP CONSTRAINT order_lines_order_id_fkey",
                "DROP TRIGGER orders_audit ON app.orders", "DROP INDEX \"Ünïcode Schema\".\"Weird \"\"Index\"\" Ω\"",
                "ALTER TABLE app.events DROP CONSTRAINT events_pkey");
        copy.copyPostData();
        assertEquals(schemaOf(source, SOURCE_DB), schemaOf(target, db));
        copy.copyPostData();
        assertEquals(schemaOf(source, SOURCE_DB), schemaOf(target, db));
    }

    @Test
    void postDataRunsAgainAndFinishesObjectsAnInterruptionLeftHalfConfigured() throws Exception {
        String db = target.createDatabase("post_half");
        SchemaCopy copy = withPreDataAndRows(db);
        copy.copyPostData();
        // pg_restore runs each TOC entry as one transaction, but the objects below get their final state from more
        // than one: the stub view from pre-data, an index from an early build, a trigger clone from its parent's entry.
        target.execute(db, "CREATE OR REPLACE VIEW app.order_totals AS SELECT NULL::bigint AS id, NULL::app.order_status AS status, NULL::numeric AS amount",
                "ALTER TABLE app.labels REPLICA IDENTITY DEFAULT", "ALTER TABLE app.labels SET WITHOUT CLUSTER",
                "ALTER TABLE app.events_2024 ENABLE TRIGGER events_unchanged");
        copy.copyPostData();
        assertEquals(schemaOf(source, SOURCE_DB), schemaOf(target, db));
    }

    @Test
    void indexesBuiltDuringTheCopyMatchWhatPgRestoreBuildsAndAHalfBuiltKeyIsFinished() throws Exception {
        String db = target.createDatabase("early");
        SchemaCopy copy = withPreDataAndRows(db);
        // What a crash between building a key's unique index and attaching it as the constraint leaves.
        target.execute(db, "CREATE UNIQUE INDEX orders_pkey ON app.orders (id)");
        EarlyIndexBuilds early = copy.startIndexBuilds();
        for (List<String> table : source.query(SOURCE_DB, """
                SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'r' AND n.nspname IN ('app', 'Ünïcode Schema')""")) {
            early.tableCopied(new QualifiedName(table.get(0), table.get(1)));
        }
        early.finish();
        assertEquals("p", target.queryValue(db, "SELECT contype FROM pg_constraint WHERE conname = 'orders_pkey'"));
        assertEquals("t", target.queryValue(db, "SELECT to_regclass('app.customers_name_trgm_idx') IS NOT NULL"), "an index with an extension's operator class");
        assertEquals("t", target.queryValue(db, "SELECT to_regclass('\"Ünïcode Schema\".\"Weird \"\"Index\"\" Ω\"') IS NOT NULL"));
        copy.copyPostData();
        assertEquals(schemaOf(source, SOURCE_DB), schemaOf(target, db));
    }

    @Test
    void viewDependingOnAPrimaryKeyReturnsTheSourceRowsAlsoWhenPostDataRunsAgain() throws Exception {
        String db = target.createDatabase("pk_view");
        SchemaCopy copy = withPreDataAndRows(db);
        String totals = "SELECT * FROM app.order_totals ORDER BY id";
        copy.copyPostData();
        List<List<String>> expected = source.query(SOURCE_DB, totals);
        assertTrue(expected.size() > 10, "the source view returns rows");
        assertEquals(expected, target.query(db, totals));
        // Rerun after a crash: the view is already replaced, and replacing it again must be harmless.
        copy.copyPostData();
        assertEquals(expected, target.query(db, totals));
    }

    @Test
    void indexSettingsReachTheTargetWhenTheIndexesWereBuiltDuringTheCopy() throws Exception {
        String db = target.createDatabase("index_settings");
        SchemaCopy copy = withPreDataAndRows(db);
        EarlyIndexBuilds early = copy.startIndexBuilds();
        early.tableCopied(new QualifiedName("app", "labels"));
        early.tableCopied(new QualifiedName("app", "coded"));
        early.finish();
        // A crash here leaves the indexes built; post-data (also the one of the next run) must add their settings.
        copy.copyPostData();
        assertEquals(source.query(SOURCE_DB, INDEX_SETTINGS), target.query(db, INDEX_SETTINGS));
        assertEquals(List.of(List.of("labels", "i"), List.of("coded", "i")),
                target.query(db, "SELECT relname, relreplident FROM pg_class WHERE relname IN ('labels', 'coded') ORDER BY relname DESC"));
    }

    /** Replica identity, CLUSTER ON and statistics targets of the source's indexes, by table and index name. */
    private static final String INDEX_SETTINGS = """
            SELECT t.relname, i.relname, x.indisreplident, x.indisclustered,
                   (SELECT string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'app' ORDER BY 1, 2""";

    @Test
    void databaseSettingsReachTheTargetDatabaseUnderItsOwnName() throws Exception {
        String db = target.createDatabase("db_settings");
        SchemaCopy copy = withPreDataAndRows(db);
        copy.copyPostData();
        String settings = "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setrole = 0 "
                + "AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1";
        assertEquals(source.query(SOURCE_DB, settings), target.query(db, settings));
        assertEquals("app, \"$user\", public", target.queryValue(db, "SHOW search_path"), "a new session of the target database");
        assertEquals("1min", target.queryValue(db, "SHOW statement_timeout"));
        // ferry's own sessions opened later (the stream, the cutover's row counts, a rerun) keep their timeouts off.
        try (Connection ferry = new Database(config(db).target(), "target").open(); Statement s = ferry.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
                     + "current_setting('idle_in_transaction_session_timeout')")) {
            rs.next();
            assertEquals(List.of("0", "0", "0"), List.of(rs.getString(1), rs.getString(2), rs.getString(3)));
        }
    }

    /**
     * The schema copy makes ferry's user the owner of every table and restores FORCE ROW LEVEL SECURITY, which subjects
     * the owner to the policies; on a target where that user is not a superuser (and lacks BYPASSRLS), the stream's
     * UPDATEs and DELETEs would then silently miss the rows the policies hide.
     */
    @Test
    void rowSecurityNeverHidesRowsFromFerrysSessions() throws Exception {
        String db = target.createDatabase("row_security");
        target.execute(db, "CREATE ROLE ferry_not_superuser LOGIN", "CREATE TABLE public.secrets (id int)", "INSERT INTO public.secrets VALUES (1), (-1)",
                "ALTER TABLE public.secrets OWNER TO ferry_not_superuser", "ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY",
                "ALTER TABLE public.secrets FORCE ROW LEVEL SECURITY", "CREATE POLICY positive ON public.secrets USING (id > 0)");
        ConnectionSpec user = ConnectionSpec.parse("target", target.uri(db).replace("postgres@", "ferry_not_superuser@"));
        try (Connection ferry = new Database(user, "target").open(); Statement s = ferry.createStatement()) {
            SQLException refused = assertThrows(SQLException.class, () -> s.executeUpdate("DELETE FROM public.secrets WHERE id < 0"));
            assertTrue(refused.getMessage().contains("row-level security"), refused.getMessage());
        }
        assertEquals("2", target.queryValue(db, "SELECT count(*) FROM public.secrets"));
    }

    @Test
    void checkToolsNamesTheVersionFoundAndTheFix() {
        FerryException tooOld = assertThrows(FerryException.class, () -> new SchemaCopy(config("postgres")).checkTools(99));
        assertTrue(tooOld.what().matches("pg_dump \\d+\\.\\d+ is too old for the source, PostgreSQL 99\\."), tooOld.what());
        assertTrue(tooOld.fix().contains("apt-get install postgresql-client-99"), tooOld.fix());
        assertTrue(tooOld.fix().contains("--schema existing"), tooOld.fix());
        assertEquals(ExitCode.BAD_INPUT, tooOld.exitCode());
    }

    @Test
    void missingToolsAreNamed() {
        FerryException missing = assertThrows(FerryException.class, () -> PgDumpTool.find(15, List.of(workDir)));
        assertEquals("pg_dump and pg_restore were not found.", missing.what());
        assertTrue(missing.fix().contains("postgresql-client-15"), missing.fix());
    }

    @Test
    void pgDumpDirIsTheOnlyPlaceLookedAtAndIsChecked() {
        Path debian15 = Path.of("/usr/lib/postgresql/15/bin");
        assertEquals(debian15.resolve("pg_dump"), PgDumpTool.find(15, Optional.of(debian15)).pgDump());

        FerryException tooOld = assertThrows(FerryException.class, () -> new SchemaCopy(withPgDumpDir(debian15)).checkTools(16));
        assertTrue(tooOld.what().matches("pg_dump 15\\.\\d+ in --pg-dump-dir '/usr/lib/postgresql/15/bin' is too old for the source, PostgreSQL 16\\."), tooOld.what());
        assertTrue(tooOld.fix().contains("postgresql-client-16") && tooOld.fix().contains("--pg-dump-dir"), tooOld.fix());
        assertEquals(ExitCode.BAD_INPUT, tooOld.exitCode());

        FerryException empty = assertThrows(FerryException.class, () -> new SchemaCopy(withPgDumpDir(workDir)).checkTools(15));
        assertEquals("--pg-dump-dir '" + workDir + "' holds no usable pg_dump and pg_restore.", empty.what());
        assertTrue(empty.fix().contains("/usr/lib/postgresql/15/bin"), empty.fix());
        assertEquals(ExitCode.BAD_INPUT, empty.exitCode());
    }

    private MigrationConfig withPgDumpDir(Path dir) {
        MigrationConfig c = config("postgres");
        return new MigrationConfig(c.source(), c.target(), c.jobs(), c.logDir(), c.workDir(), c.schemaMode(), c.numericNanInf(), c.slotName(),
                c.acceptRisks(), c.tables(), c.metricsPort(), c.statusInterval(), Optional.of(dir));
    }

    /** A target database with pre-data restored and the rows copied, ready for post-data. */
    private SchemaCopy withPreDataAndRows(String db) throws Exception {
        SchemaCopy copy = new SchemaCopy(config(db));
        copy.copyPreData(Optional.empty());
        copyData(db);
        return copy;
    }

    /** The rows, copied the way pg_dump does it, so post-data finds its tables filled. */
    private void copyData(String db) throws Exception {
        Path data = workDir.resolve("data.dump");
        run("pg_dump", "--data-only", "--format=custom", "--exclude-schema=ferry", "--file=" + data, "--dbname=" + source.uri(SOURCE_DB));
        run("pg_restore", "--data-only", "--exit-on-error", "--dbname=" + target.uri(db), data.toString());
    }

    private static String schemaOf(TestPostgres server, String db) throws Exception {
        return dumpText(server, db, "--schema-only");
    }

    /**
     * Pre-data without app.order_totals: pg_dump writes that view as a stub of NULLs until post-data, and the stub
     * created on the target then prints as an ordinary view, in another layout.
     */
    private static String preDataOf(TestPostgres server, String db) throws Exception {
        return dumpText(server, db, "--section=pre-data", "--exclude-table=app.order_totals");
    }

    private static String dumpText(TestPostgres server, String db, String... what) throws Exception {
        List<String> command = new ArrayList<>(List.of("pg_dump", "--no-publications", "--no-subscriptions", "--exclude-schema=ferry",
                "--dbname=" + server.uri(db)));
        command.addAll(List.of(what));
        Process p = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String text = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "pg_dump of " + db);
        return text.lines().filter(l -> !l.startsWith("--") && !l.isBlank() && !l.startsWith("\\restrict") && !l.startsWith("\\unrestrict")).collect(Collectors.joining("\n"));
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", command) + ":\n" + output);
    }
}
