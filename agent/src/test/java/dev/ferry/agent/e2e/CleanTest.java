package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `ferry clean` gives up a migration: slot, publications and state gone; never under a running agent, never unasked. */
@Timeout(240)
class CleanTest extends TwoServers {
    @Test
    void cleanRefusesWhileAnAgentRunsAsksFirstAndThenLeavesNothingBehind() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "clean");
        source.execute("clean", "CREATE TABLE public.t (id int PRIMARY KEY, v text)", "INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 100) g",
                "CREATE TABLE public.keyless (v text)", "CREATE TABLE public.ids (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)");
        String sourceUri = source.uri("clean").replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
        String targetUri = target.uri("clean").replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
        Process agent = migration.startChild(1, "copy");
        FerryCommand refused;
        try {
            Deadline.await("the agent to stream", Duration.ofMinutes(2), () -> {
                if (!agent.isAlive()) throw new AssertionError("the agent exited: " + migration.log("child-console.log"));
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM).isPresent();
            });

            refused = FerryCommand.run("clean", "--source", sourceUri, "--target", targetUri, "--yes");
            assertEquals(ExitCode.FAILED, refused.code(), refused.out() + refused.err());
            assertTrue(refused.err().contains("a ferry agent is running this migration: pid " + agent.pid()), refused.err());
            assertEquals(1, migration.slotCount(), "nothing removed while the agent runs");
        } finally {
            agent.destroyForcibly();
            assertTrue(agent.waitFor(30, TimeUnit.SECONDS));
        }

        InputStream stdin = System.in;
        FerryCommand unconfirmed;
        try {
            System.setIn(new ByteArrayInputStream(new byte[0]));
            unconfirmed = FerryCommand.run("clean", "--source", sourceUri, "--target", targetUri);
        } finally {
            System.setIn(stdin);
        }
        assertEquals(ExitCode.FAILED, unconfirmed.code(), unconfirmed.out() + unconfirmed.err());
        assertTrue(unconfirmed.out().contains("replication slot ferry_clean (retaining ") && unconfirmed.out().contains("publication \"ferry_clean_pub\"")
                && unconfirmed.out().contains("publication \"ferry_clean_pub_inserts\"") && unconfirmed.out().contains("schema \"ferry\""), unconfirmed.out());
        assertTrue(unconfirmed.out().contains("clean: not confirmed; nothing was removed."), unconfirmed.out());
        assertEquals(1, migration.slotCount(), "nothing removed without confirmation");

        FerryCommand cleaned = FerryCommand.run("clean", "--source", sourceUri, "--target", targetUri, "--yes");
        assertEquals(ExitCode.OK, cleaned.code(), cleaned.out() + cleaned.err());
        assertEquals(0, migration.slotCount(), "slot removed");
        assertEquals("0", source.queryValue("clean", "SELECT count(*) FROM pg_publication"), "publications removed");
        assertEquals("0", target.queryValue("clean", "SELECT count(*) FROM pg_namespace WHERE nspname = 'ferry'"), "state removed");
        assertEquals("100", target.queryValue("clean", "SELECT count(*) FROM public.t"), "copied rows stay");
        assertEquals("a", target.queryValue("clean", "SELECT attidentity FROM pg_attribute WHERE attrelid = 'public.ids'::regclass AND attname = 'id'"),
                "the identity column the stream made BY DEFAULT is ALWAYS again");

        FerryCommand again = FerryCommand.run("clean", "--source", sourceUri, "--target", targetUri, "--yes");
        assertEquals(ExitCode.OK, again.code());
        assertTrue(again.out().startsWith("clean: nothing to remove"), again.out());
        assertFalse((refused.err() + unconfirmed.out() + cleaned.out() + again.out()).contains(MigrationFixture.PASSWORD), "password printed");
    }
}
