package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.agent.testing.FerryProcess;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

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
        server.createDatabase("cli_not_empty");
        server.execute("cli_not_empty", "CREATE TABLE public.already_here (id int PRIMARY KEY)");
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
    void unknownOptionIsBadInputWithTheUsage() {
        FerryCommand outcome = ferry("run", "--sorce", server.uri("cli_source"));
        assertEquals(ExitCode.BAD_INPUT, outcome.code());
        assertTrue(outcome.err().contains("--sorce") && outcome.err().contains("Usage:"), outcome.err());
        assertTrue(outcome.err().strip().endsWith("exit code 2 (bad input)"), outcome.err());
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

    // The console as a person sees it (a terminal, `docker logs`): a child JVM, so Logback's console output is caught too.

    private static final Path SCRATCH = Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"), "cli-console").toAbsolutePath();
    private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(60);

    @Test
    void preflightFailurePrintsWhatWhyFixAndExitCodeWithoutAStackTrace() throws IOException {
        Path logDir = SCRATCH.resolve("preflight-fail-logs");
        FerryProcess outcome = FerryProcess.run(SCRATCH, CHILD_TIMEOUT, "run", "--source", server.uri("cli_source"),
                "--target", server.uri("cli_not_empty").replace("postgres@", "postgres:hunter2@"), "--log-dir", logDir.toString());
        assertEquals(ExitCode.PREFLIGHT_FAILED, outcome.code(), outcome.console());
        assertTrue(outcome.err().contains("preflight failed: target-empty"), outcome.console());
        assertTrue(outcome.err().contains("why:") && outcome.err().contains("fix:"), outcome.console());
        assertTrue(outcome.err().contains("exit code 3"), outcome.console());
        assertFalse(outcome.showsStackTrace(), outcome.console());
        assertFalse(outcome.console().contains("hunter2"), outcome.console());
        String ferryLog = Files.readString(logDir.resolve("ferry.log"));
        assertTrue(ferryLog.contains("preflight failed: target-empty") && ferryLog.contains("\tat dev.ferry."), "the trace is in ferry.log:\n" + ferryLog);
    }

    @Test
    void preflightCommandWithAFailShowsItsFixAndExitCode() {
        FerryProcess outcome = FerryProcess.run(SCRATCH, CHILD_TIMEOUT, "preflight", "--source", server.uri("cli_source"),
                "--target", server.uri("cli_not_empty"));
        assertEquals(ExitCode.PREFLIGHT_FAILED, outcome.code(), outcome.console());
        assertTrue(outcome.out().contains("FAIL target-empty") && outcome.out().contains("fix:"), outcome.console());
        assertTrue(outcome.err().contains("exit code 3 (preflight failed)"), outcome.console());
        assertFalse(outcome.showsStackTrace(), outcome.console());
    }

    @Test
    void badUriPrintsWhatWhyFixWithoutAStackTrace() {
        FerryProcess outcome = FerryProcess.run(SCRATCH, CHILD_TIMEOUT, "run", "--source", "mysql://root:hunter2@db/app",
                "--target", server.uri("cli_target"), "--log-dir", SCRATCH.resolve("bad-uri-logs").toString());
        assertEquals(ExitCode.BAD_INPUT, outcome.code(), outcome.console());
        assertTrue(outcome.err().contains("--source") && outcome.err().contains("fix:"), outcome.console());
        assertTrue(outcome.err().contains("exit code 2"), outcome.console());
        assertFalse(outcome.showsStackTrace(), outcome.console());
        assertFalse(outcome.console().contains("hunter2"), outcome.console());
    }

    @Test
    void unreachableServerPrintsWhatWhyFixWithoutAStackTrace() {
        FerryProcess outcome = FerryProcess.run(SCRATCH, CHILD_TIMEOUT, "preflight", "--source", "postgres://u:hunter2@127.0.0.1:1/app",
                "--target", server.uri("cli_target"));
        assertEquals(ExitCode.UNREACHABLE, outcome.code(), outcome.console());
        assertTrue(outcome.err().contains("refused") && outcome.err().contains("fix:"), outcome.console());
        assertTrue(outcome.err().contains("exit code 4"), outcome.console());
        assertFalse(outcome.showsStackTrace(), outcome.console());
        assertFalse(outcome.console().contains("hunter2"), outcome.console());
    }

    @Test
    void anUnexpectedExceptionIsReportedAsABugWithItsStackTrace() {
        StringWriter console = new StringWriter();
        int code = Main.report(new IllegalStateException("unhandled Frobnicate[]"), new PrintWriter(console, true));
        assertEquals(ExitCode.FAILED, code);
        assertTrue(console.toString().contains("this is a bug in ferry"), console.toString());
        assertTrue(console.toString().contains("unhandled Frobnicate[]") && console.toString().contains("\tat dev.ferry."), console.toString());
    }

    @Test
    void anExpectedFailureIsNotReportedAsABug() {
        StringWriter console = new StringWriter();
        int code = Main.report(new FerryException("the copy was interrupted.", "ferry is shutting down.", "run it again.", ExitCode.INTERRUPTED, null),
                new PrintWriter(console, true));
        assertEquals(ExitCode.INTERRUPTED, code);
        assertFalse(console.toString().contains("bug"), console.toString());
        assertFalse(console.toString().contains("\tat "), console.toString());
        assertTrue(console.toString().contains("exit code 5"), console.toString());
    }
}
