package dev.ferry.agent.e2e;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** NaN and Infinity in numeric columns, into a PostgreSQL 13 target that has no numeric Infinity. */
@Timeout(180)
class NumericNanInfTest {
    private static final String SCHEMA = "CREATE TABLE public.prices (id int PRIMARY KEY, amount numeric, ratio float8)";
    private static TestPostgres source;
    private static TestPostgres target13;

    @BeforeAll
    static void startServers() {
        assumeTrue(TestPostgres.available(13), "no PostgreSQL 13 binaries");
        source = TestPostgres.start();
        target13 = TestPostgres.start(13, Map.of());
    }

    @AfterAll
    static void stopServers() {
        if (source != null) source.close();
        if (target13 != null) target13.close();
    }

    private static MigrationFixture prepare(String db) {
        MigrationFixture migration = new MigrationFixture(source, target13, db);
        source.execute(db, SCHEMA, "INSERT INTO public.prices VALUES (1, 1.5, 1), (2, 'NaN', 'NaN'), (3, 'Infinity', 'Infinity'), (4, '-Infinity', '-Infinity')");
        target13.execute(db, SCHEMA);
        return migration;
    }

    @Test
    void keepStopsWithAMessageThatNamesTheOption() throws Exception {
        MigrationFixture migration = prepare("naninf_keep");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 1, "target-version"));
        AssertionError failed = assertThrows(AssertionError.class, () -> agent.awaitSummary(Duration.ofSeconds(60)));
        FerryException cause = (FerryException) failed.getCause();
        assertTrue(cause.describe().contains("numeric-infinity"), "preflight stops it before anything is created: " + cause.describe());
        assertTrue(cause.describe().contains("--numeric-nan-inf null"), cause.describe());
        assertTrue(cause.describe().contains("\"public\".\"prices\""), cause.describe());
        assertEquals(0, migration.slotCount(), "nothing created on the source");
    }

    @Test
    void nullWritesNullForNumericNanAndInfinityAndCountsThem() throws Exception {
        MigrationFixture migration = prepare("naninf_null");
        MigrationConfig keep = migration.config(MigrationConfig.SchemaMode.EXISTING, 1, "target-version");
        MigrationConfig nulls = new MigrationConfig(keep.source(), keep.target(), keep.jobs(), keep.logDir(), keep.workDir(), keep.schemaMode(),
                MigrationConfig.NumericNanInf.NULL, keep.slotName(), keep.acceptRisks(), keep.tables(), 0, keep.statusInterval(), keep.pgDumpDir());
        MigrationFixture.InProcessAgent agent = migration.startInProcess(nulls);
        Deadline.await("streaming", Duration.ofSeconds(90), () -> {
            agent.failIfDead();
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
        source.execute("naninf_null", "INSERT INTO public.prices VALUES (5, 'Infinity', 2), (6, 2.25, 'Infinity')", "UPDATE public.prices SET amount = 'NaN' WHERE id = 1");
        migration.cutover(Duration.ofSeconds(60));
        agent.awaitSummary(Duration.ofSeconds(30));

        assertEquals(List.of(
                List.of("1", "null", "1"), List.of("2", "null", "NaN"), List.of("3", "null", "Infinity"), List.of("4", "null", "-Infinity"),
                List.of("5", "null", "2"), List.of("6", "2.25", "Infinity")),
                target13.query("naninf_null", "SELECT id, coalesce(amount::text, 'null'), ratio::text FROM public.prices ORDER BY id"));
        assertTrue(migration.log("snapshot.log").contains("wrote NULL for 3 NaN/Infinity numeric values"), migration.log("snapshot.log"));
        // The inserted Infinity and the updated NaN, as the fix for a target that rejects them promises.
        assertTrue(migration.log("stream.log").contains("\"public\".\"prices\": wrote NULL for 2 NaN/Infinity numeric values"), migration.log("stream.log"));
    }
}
