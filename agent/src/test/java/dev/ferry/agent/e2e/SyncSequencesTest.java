package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `ferry sync-sequences` moves target sequences forward to the source's values and never backwards. */
@Timeout(120)
class SyncSequencesTest extends TwoServers {
    private static final String[] SCHEMA = {
            "CREATE SEQUENCE public.up",
            "CREATE SEQUENCE public.ahead_on_target",
            "CREATE SEQUENCE public.down INCREMENT -1 MINVALUE -1000 MAXVALUE -1 START -1",
            "CREATE TABLE public.items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)"};

    @Test
    void sequencesMoveForwardOnlyWhateverTheirDirection() {
        MigrationFixture pair = new MigrationFixture(source, target, "seqsync");
        source.execute("seqsync", SCHEMA);
        target.execute("seqsync", SCHEMA);
        source.execute("seqsync", "SELECT setval('public.up', 100)", "SELECT setval('public.ahead_on_target', 10)",
                "SELECT nextval('public.down') FROM generate_series(1, 5)", "INSERT INTO public.items (v) SELECT 'x' FROM generate_series(1, 50)",
                "CREATE SEQUENCE public.only_on_source");
        target.execute("seqsync", "SELECT setval('public.ahead_on_target', 500)");
        String sourceUri = source.uri("seqsync").replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
        String targetUri = target.uri("seqsync").replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");

        FerryCommand first = FerryCommand.run("sync-sequences", "--source", sourceUri, "--target", targetUri);

        assertEquals(ExitCode.FAILED, first.code(), "a sequence missing on the target fails the run: " + first.out() + first.err());
        assertTrue(first.out().contains("sync-sequences: 3 moved forward, 1 already as far on the target, 1 missing on the target"), first.out());
        assertTrue(first.out().contains("sequence \"public\".\"only_on_source\" exists on the source but not on the target"), first.out());
        assertEquals("101", target.queryValue("seqsync", "SELECT nextval('public.up')"));
        assertEquals("501", target.queryValue("seqsync", "SELECT nextval('public.ahead_on_target')"), "never moved backwards");
        assertEquals("-6", target.queryValue("seqsync", "SELECT nextval('public.down')"));
        assertEquals("51", target.queryValue("seqsync", "INSERT INTO public.items (v) VALUES ('y') RETURNING id"), "identity columns follow");

        // The migration's filter leaves the schema out: its sequences, the missing one too, are none of this run's business.
        FerryCommand filtered = FerryCommand.run("sync-sequences", "--source", sourceUri, "--target", targetUri, "--exclude-schema", "pub*");
        assertEquals(ExitCode.OK, filtered.code(), filtered.out() + filtered.err());
        assertTrue(filtered.out().contains("sync-sequences: 0 moved forward, 0 already as far on the target, 0 missing on the target"), filtered.out());

        target.execute("seqsync", "CREATE SEQUENCE public.only_on_source");
        FerryCommand second = FerryCommand.run("sync-sequences", "--source", sourceUri, "--target", targetUri);
        assertEquals(ExitCode.OK, second.code(), second.out() + second.err());
        assertEquals("101", source.queryValue("seqsync", "SELECT nextval('public.up')"), "the source is only read");
    }
}
