package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a person watching `ferry run` sees: the copy's progress (tables and data done of the total, rate, ETA, tables
 * in flight) and the stream's (lag in bytes and seconds, changes/s, WAL retained), redrawn in place on a terminal and
 * as plain lines elsewhere; the log files always get plain lines.
 */
@Timeout(180)
class ProgressTest extends TwoServers {
    private static final String ERASE_LINE = "\r\u001b[K";
    private static final Pattern COPY_LINE = Pattern.compile("copy: \\d+ of 2 tables, [0-9.]+ [kMG]B of [0-9.]+ [kMG]B \\(\\d+%\\), [0-9.]+ [kMG]B/s, ETA ");
    private static final Pattern STREAM_LINE = Pattern.compile(
            "streaming: applied [0-9A-F]+/[0-9A-F]+ \\(source at [0-9A-F]+/[0-9A-F]+, lag [0-9.]+ [kMG]B, [0-9.]+ s\\); [0-9,]+ changes/s; source retains [0-9.]+ [kMG]B of WAL for the slot");

    @ParameterizedTest(name = "terminal console: {0}")
    @ValueSource(booleans = {true, false})
    void copyAndStreamProgressShowOnTheConsole(boolean terminal) throws Exception {
        String database = terminal ? "progress_tty" : "progress_plain";
        MigrationFixture migration = new MigrationFixture(source, target, database);
        source.execute(database, "CREATE TABLE public.a (id int PRIMARY KEY, v text)", "INSERT INTO public.a SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
                "CREATE TABLE public.b (id int PRIMARY KEY, v text)", "INSERT INTO public.b SELECT g, 'b' FROM generate_series(1, 100) g");
        PrintStream original = System.out;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
        String out;
        try {
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2), terminal);
            agent.awaitStreaming(Duration.ofMinutes(2));
            source.execute(database, "UPDATE public.a SET v = 'changed' WHERE id <= 100");
            Deadline.await("a stream progress line on the console", Duration.ofSeconds(30), () -> {
                agent.failIfDead();
                return STREAM_LINE.matcher(console.toString(StandardCharsets.UTF_8)).find();
            });
            out = console.toString(StandardCharsets.UTF_8);
            // In-process commands set up logging for themselves: from here on the agent's console is no longer the one under test.
            assertStatusShowsTheCopyAndTheRetainedWal(migration, database);
            migration.cutover(Duration.ofMinutes(1));
            agent.awaitSummary(Duration.ofSeconds(30));
        } finally {
            System.setOut(original);
        }

        assertTrue(COPY_LINE.matcher(out).find(), out);
        if (terminal) {
            // Redrawn in place: the progress line ends without a newline, and the next line erases it first.
            assertTrue(Pattern.compile(Pattern.quote(ERASE_LINE) + "copy: \\d+ of 2 tables[^\n]*" + Pattern.quote(ERASE_LINE)).matcher(out).find(), out);
            assertTrue(Pattern.compile(Pattern.quote(ERASE_LINE) + "streaming: applied [^\n]*(" + Pattern.quote(ERASE_LINE) + "|\\z)").matcher(out).find(), out);
        } else {
            assertFalse(out.contains("\u001b"), "no terminal escapes outside a terminal: " + out);
            assertTrue(Pattern.compile("(?m)^\\d\\d:\\d\\d:\\d\\d INFO  snapshot: copy: \\d+ of 2 tables.*$").matcher(out).find(), out);
            assertTrue(Pattern.compile("(?m)^\\d\\d:\\d\\d:\\d\\d INFO  stream: streaming: applied .*$").matcher(out).find(), out);
        }
        String files = migration.log("snapshot.log") + migration.log("stream.log");
        assertFalse(files.contains("\u001b"), "log files are plain");
        assertTrue(COPY_LINE.matcher(migration.log("snapshot.log")).find(), migration.log("snapshot.log"));
        assertTrue(STREAM_LINE.matcher(migration.log("stream.log")).find(), migration.log("stream.log"));
    }

    /** `ferry status` from another process's point of view: the copy against its plan, lag and WAL retained. */
    private static void assertStatusShowsTheCopyAndTheRetainedWal(MigrationFixture migration, String database) {
        String sourceUri = source.uri(database).replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
        String targetUri = target.uri(database).replace("postgres@", "postgres:" + MigrationFixture.PASSWORD + "@");
        // How much WAL the slot holds moves with every write and confirmation: the warning is checked against the figure
        // the same call reports, and with a limit of 0 bytes once the slot holds some (a write on the source makes sure).
        FerryCommand json = FerryCommand.run("status", "--json", "--target", targetUri, "--source", sourceUri, "--max-retained-wal", "0");
        assertEquals(0, json.code(), json.err());
        assertTrue(json.out().contains("\"phase\":\"stream\"") && json.out().contains("\"copy_tables\":2,\"copy_tables_done\":2"), json.out());
        Matcher retained = Pattern.compile("\"retained_wal_bytes\":([0-9]+),\"retained_wal_warning\":(true|false)").matcher(json.out());
        assertTrue(retained.find(), json.out());
        assertEquals(Long.parseLong(retained.group(1)) > 0, Boolean.parseBoolean(retained.group(2)), json.out());
        FerryCommand text = FerryCommand.run("status", "--target", targetUri, "--source", sourceUri);
        assertTrue(text.out().contains("copy          2 of 2 tables") && text.out().contains("retained WAL  "), text.out());
        assertFalse(text.out().contains("WARN"), "under the default limit: " + text.out());
        FerryCommand warned = Deadline.await("a status that warns of retained WAL", Duration.ofSeconds(30), () -> {
            source.execute(database, "SELECT pg_logical_emit_message(false, 'ferry-test', 'WAL')");
            return FerryCommand.run("status", "--target", targetUri, "--source", sourceUri, "--max-retained-wal", "0");
        }, status -> status.out().contains("WARN  the source retains "));
        assertTrue(warned.out().contains("`ferry clean` removes the slot"), warned.out());
        assertFalse((json.out() + text.out() + warned.out() + warned.err()).contains(MigrationFixture.PASSWORD), "password printed");
    }
}
