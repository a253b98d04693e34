package dev.ferry.agent.e2e;

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

    private static void awaitStreaming(MigrationFixture migration, MigrationFixture.InProcessAgent agent) {
        Deadline.await("streaming", Duration.ofSeconds(120), () -> {
            agent.failIfDead();
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
    }
}
