package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a person sees from the command line when the input is wrong or nothing is running. */
@Timeout(120)
class CommandLineTest {
    private static TestPostgres server;

    @BeforeAll
    static void start() {
        server = TestPostgres.start();
        server.createDatabase("cli_source");
        server.createDatabase("cli_target");
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static FerryCommand ferry(String... args) {
        return FerryCommand.run(args);
    }

    @Test
    void everyCommandHasHelpWithAnExample() {
        for (String command : new String[] {"run", "preflight", "cutover", "status"}) {
            FerryCommand help = ferry(command, "--help");
            assertEquals(0, help.code(), command);
            assertTrue(help.out().contains("Example"), command + " --help shows an example:\n" + help.out());
        }
    }

    @Test
    void malformedSourceUriIsBadInputWithoutThePassword() {
        FerryCommand outcome = ferry("run", "--source", "mysql://root:hunter2@db/app", "--target", server.uri("cli_target"));
        assertEquals(ExitCode.BAD_INPUT, outcome.code(), outcome.err());
        assertTrue(outcome.err().contains("--source"), outcome.err());
        assertFalse(outcome.err().contains("hunter2"), outcome.err());
    }

    @Test
    void unknownOptionValueIsBadInput() {
        FerryCommand outcome = ferry("run", "--source", server.uri("cli_source"), "--target", server.uri("cli_target"), "--numeric-nan-inf", "maybe");
        assertEquals(ExitCode.BAD_INPUT, outcome.code());
        assertTrue(outcome.err().contains("keep|null"), outcome.err());
    }

    @Test
    void unreachableTargetSaysSoAndExitsFour() {
        FerryCommand outcome = ferry("status", "--target", "postgres://u:secret@127.0.0.1:1/app");
        assertEquals(ExitCode.UNREACHABLE, outcome.code(), outcome.err());
        assertTrue(outcome.err().contains("refused"), outcome.err());
        assertFalse(outcome.err().contains("secret"), outcome.err());
    }

    @Test
    void cutoverWithoutARunningMigrationFailsClearly() {
        FerryCommand outcome = ferry("cutover", "--source", server.uri("cli_source"), "--target", server.uri("cli_target"), "--timeout", "5s");
        assertEquals(ExitCode.FAILED, outcome.code());
        assertTrue(outcome.err().contains("no migration is running"), outcome.err());
        assertEquals("0", server.queryValue("cli_source", "SELECT count(*) FROM pg_replication_slots"), "nothing created");
    }
}
