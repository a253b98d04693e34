package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.replication.Lsn;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `docker stop` as ferry sees it: SIGTERM to `ferry run` is a graceful stop with exit code 5, and a new run resumes. */
@Timeout(240)
class SignalStopTest extends TwoServers {
    @Test
    void sigtermWhileStreamingStopsWithExitFiveAndARunAgainResumesToAnIdenticalTarget() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "sigterm");
        try (Connection c = migration.source.open()) {
            SampleDatabase.create(c, 1000);
        }
        try (Workload workload = new Workload(migration.source::open, 17)) {
            workload.start();
            Process first = migration.startChild(2, "copy");
            Deadline.await("the agent to stream and apply", Duration.ofMinutes(2), () -> {
                if (!first.isAlive()) throw new AssertionError("the agent exited with " + first.exitValue() + "; see " + migration.logDir);
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.appliedLsn().isAfter(s.consistentLsn())).isPresent();
            });
            workload.awaitTransactions(workload.transactions() + 200, Duration.ofMinutes(1));

            first.destroy(); // SIGTERM, as `docker stop` sends it
            assertTrue(first.waitFor(15, TimeUnit.SECONDS), "the agent stops within docker stop's 10 s grace");
            String console = migration.log("child-console.log");
            assertEquals(ExitCode.INTERRUPTED, first.exitValue(), console);
            assertTrue(console.contains("stopping on a signal") && console.contains("exit code 5"), console);
            assertFalse(console.lines().anyMatch(line -> line.startsWith("\tat ")), "no stack trace on the console:\n" + console);
            Lsn appliedBeforeStop = migration.state().orElseThrow().appliedLsn();
            workload.awaitTransactions(workload.transactions() + 200, Duration.ofMinutes(1));

            int statusPort = freePort();
            migration.extraArgs.addAll(List.of("--metrics-port", String.valueOf(statusPort)));
            Process second = migration.startChild(2, "copy");
            Deadline.await("the restarted agent to apply past the stop", Duration.ofMinutes(2), () -> {
                if (!second.isAlive()) throw new AssertionError("the restarted agent exited with " + second.exitValue() + "; see " + migration.logDir);
                return migration.state().filter(s -> s.appliedLsn().isAfter(appliedBeforeStop)).isPresent();
            });
            // What the container's HEALTHCHECK and a dashboard read: the resumed agent is streaming.
            String status = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + statusPort + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(status.contains("\"phase\":\"stream\""), status);
            workload.close();
            String summary = migration.cutover(Duration.ofMinutes(2));
            assertTrue(summary.contains("migration finished"), summary);
            assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
            assertEquals(0, second.exitValue());
        }
        assertTrue(migration.log("ferry.log").contains("resuming the migration"), "the second run resumed rather than started over");
        ComparisonResult result = migration.compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
        migration.assertLogsHideThePassword();
    }

    @Test
    void sigtermDuringTheCopyStopsWithExitFiveAndARunAgainResumesToAnIdenticalTarget() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "sigterm_copy");
        // Enough rows that one worker is still copying when the signal lands (about 25 MB a table).
        for (int i = 1; i <= 4; i++) {
            source.execute("sigterm_copy", "CREATE TABLE public.bulk_" + i + " (id bigint PRIMARY KEY, payload text)",
                    "INSERT INTO public.bulk_" + i + " SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g");
        }
        Process first = migration.startChild(1, "copy");
        Deadline.await("the copy to start", Duration.ofMinutes(2), () -> {
            if (!first.isAlive()) throw new AssertionError("the agent exited with " + first.exitValue() + "; see " + migration.logDir);
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.COPY).isPresent();
        });
        first.destroy(); // SIGTERM
        assertTrue(first.waitFor(15, TimeUnit.SECONDS), "the agent stops within docker stop's 10 s grace");
        String console = migration.log("child-console.log");
        assertEquals(ExitCode.INTERRUPTED, first.exitValue(), console);
        assertFalse(console.lines().anyMatch(line -> line.startsWith("\tat ")), "no stack trace on the console:\n" + console);
        assertEquals(MigrationState.Phase.COPY, migration.state().orElseThrow().phase(), "stopped during the copy");

        Process second = migration.startChild(2, "copy");
        Deadline.await("the restarted agent to stream", Duration.ofMinutes(2), () -> {
            if (!second.isAlive()) throw new AssertionError("the restarted agent exited with " + second.exitValue() + "; see " + migration.logDir);
            // The heartbeat is the stream's: the cutover asks for an agent that has one.
            return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
        });
        source.execute("sigterm_copy", "UPDATE public.bulk_1 SET payload = 'after the restart' WHERE id % 1000 = 0");
        String summary = migration.cutover(Duration.ofMinutes(2));
        assertTrue(summary.contains("migration finished"), summary);
        assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
        assertEquals(0, second.exitValue());
        ComparisonResult result = migration.compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
