package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.testing.FerryCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the cutover's row counts let through: a keyed table that differs stops it (exit 1, naming the table and both
 * counts); an insert-only table the user was warned about may differ, and the summary says by how many rows; so is a
 * table created on the source after the start, which the migration does not hold.
 */
@Timeout(180)
class CutoverVerificationTest extends TwoServers {
    private static final String SCHEMA = """
            CREATE TABLE public.keyed (id int PRIMARY KEY, v int);
            CREATE TABLE public.log (id int, note text);
            """;

    private static MigrationFixture.InProcessAgent streaming(MigrationFixture migration) {
        source.execute(migration.database, SCHEMA, "INSERT INTO public.keyed SELECT g, 0 FROM generate_series(1, 100) g",
                "INSERT INTO public.log SELECT g, 'x' FROM generate_series(1, 10) g");
        target.execute(migration.database, SCHEMA);
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.EXISTING, 1));
        agent.awaitStreaming(Duration.ofMinutes(1));
        return agent;
    }

    @Test
    void insertOnlyDifferencesAndTablesCreatedAfterTheStartAreNamedInTheSummary() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "warned");
        MigrationFixture.InProcessAgent agent = streaming(migration);
        source.execute("warned", "DELETE FROM public.log WHERE id <= 3", "INSERT INTO public.log VALUES (11, 'y')",
                "UPDATE public.keyed SET v = 1 WHERE id <= 5",
                "CREATE TABLE public.added_later (id int)", "INSERT INTO public.added_later SELECT generate_series(1, 4)");

        String summary = migration.cutover(Duration.ofMinutes(1));
        assertTrue(summary.contains("migration finished"), summary);
        assertTrue(summary.contains("  differs     \"public\".\"log\": 8 rows on the source, 11 on the target (3 more); no tuple identifier"), summary);
        assertTrue(summary.contains("  new table   \"public\".\"added_later\": 4 rows on the source, not migrated"), summary);
        assertTrue(!summary.contains("\"public\".\"keyed\""), "equal counts are not listed: " + summary);
        assertEquals(summary, agent.awaitSummary(Duration.ofSeconds(30)));
    }

    @Test
    void aKeyedTableThatDiffersStopsTheCutoverUntilItIsFixed() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "differs");
        MigrationFixture.InProcessAgent agent = streaming(migration);
        target.execute("differs", "DELETE FROM public.keyed WHERE id = 7");

        FerryCommand refused = FerryCommand.run("cutover", "--source", source.uri("differs"), "--target", target.uri("differs"), "--timeout", "1m");
        assertEquals(ExitCode.FAILED, refused.code(), refused.out() + refused.err());
        assertTrue(refused.err().contains("row counts differ for \"public\".\"keyed\" source 100 rows, target 99"), refused.err());
        assertEquals(1L, migration.slotCount(), "nothing removed from the source");
        agent.failIfDead();

        target.execute("differs", "INSERT INTO public.keyed VALUES (7, 0)");
        String summary = migration.cutover(Duration.ofMinutes(1));
        assertTrue(summary.contains("migration finished"), summary);
        assertEquals(summary, agent.awaitSummary(Duration.ofSeconds(30)));
    }
}
