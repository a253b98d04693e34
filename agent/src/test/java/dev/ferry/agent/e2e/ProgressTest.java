package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Pattern;

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
        try {
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2), terminal);
            Deadline.await("the agent to stream", Duration.ofMinutes(2), () -> {
                agent.failIfDead();
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            });
            source.execute(database, "UPDATE public.a SET v = 'changed' WHERE id <= 100");
            Deadline.await("a stream progress line on the console", Duration.ofSeconds(30), () -> {
                agent.failIfDead();
                return STREAM_LINE.matcher(console.toString(StandardCharsets.UTF_8)).find();
            });
            migration.cutover(Duration.ofMinutes(1));
            agent.awaitSummary(Duration.ofSeconds(30));
        } finally {
            System.setOut(original);
        }

        String out = console.toString(StandardCharsets.UTF_8);
        assertTrue(COPY_LINE.matcher(out).find(), out);
        if (terminal) {
            // Redrawn in place: the progress line ends without a newline, and the next line erases it first.
            assertTrue(Pattern.compile(Pattern.quote(ERASE_LINE) + "copy: \\d+ of 2 tables[^\n]*" + Pattern.quote(ERASE_LINE)).matcher(out).find(), out);
            assertTrue(Pattern.compile(Pattern.quote(ERASE_LINE) + "streaming: applied [^\n]*" + Pattern.quote(ERASE_LINE)).matcher(out).find(), out);
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
}
