package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The running agent's /metrics and /status endpoints report what it did. */
@Timeout(120)
class MetricsTest {
    private static final Path DASHBOARD = Path.of("..", "docker", "grafana-dashboard.json");

    @Test
    void metricsAndStatusReportCopiedRowsAndAppliedChanges() throws Exception {
        try (TestPostgres source = TestPostgres.start(); TestPostgres target = TestPostgres.start()) {
            MigrationFixture migration = new MigrationFixture(source, target, "metrics");
            String ddl = "CREATE TABLE public.t (id int PRIMARY KEY, v text)";
            source.execute("metrics", ddl, "INSERT INTO public.t SELECT g, 'x' FROM generate_series(1, 500) g");
            target.execute("metrics", ddl);
            int port;
            try (ServerSocket free = new ServerSocket(0)) {
                port = free.getLocalPort();
            }
            MigrationConfig base = migration.config(MigrationConfig.SchemaMode.EXISTING, 1);
            MigrationConfig config = new MigrationConfig(base.source(), base.target(), base.jobs(), base.logDir(), base.workDir(), base.schemaMode(),
                    base.numericNanInf(), base.slotName(), base.acceptRisks(), base.tables(), port, base.statusInterval(), base.pgDumpDir());
            MigrationFixture.InProcessAgent agent = migration.startInProcess(config);
            Deadline.await("streaming", Duration.ofSeconds(60), () -> {
                agent.failIfDead();
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            });
            source.execute("metrics", "UPDATE public.t SET v = 'y' WHERE id <= 10");
            HttpClient http = HttpClient.newHttpClient();
            String metrics = Deadline.await("10 applied changes in /metrics", Duration.ofSeconds(30),
                    () -> get(http, port, "/metrics"), body -> body.contains("ferry_stream_changes_total 10.0"));
            assertTrue(metrics.contains("ferry_copy_rows_total 500.0"), metrics);
            assertTrue(metrics.contains("ferry_stream_lag_bytes"), metrics);
            String status = get(http, port, "/status");
            assertTrue(status.contains("\"phase\":\"stream\"") && status.contains("\"copied_rows\":500"), status);
            assertTrue(status.contains("\"copy_tables\":1,\"copy_tables_done\":1"), status);
            // Every metric the Grafana dashboard in docker/ queries exists in a real scrape.
            Set<String> queried = new TreeSet<>();
            Matcher names = Pattern.compile("ferry_[a-z_]+").matcher(Files.readString(DASHBOARD));
            while (names.find()) queried.add(names.group());
            assertTrue(queried.size() >= 10, "dashboard queries " + queried);
            for (String metric : queried) {
                assertTrue(Pattern.compile("(?m)^" + metric + "(\\{| )").matcher(metrics).find(), metric + " is queried by the dashboard but not in /metrics:\n" + metrics);
            }
            // The retained WAL is read with the stream's progress line, every few seconds.
            Deadline.await("retained WAL in /metrics", Duration.ofSeconds(30), () -> get(http, port, "/metrics"),
                    body -> Pattern.compile("(?m)^ferry_source_retained_wal_bytes [1-9]").matcher(body).find());
            migration.cutover(Duration.ofSeconds(60));
            agent.awaitSummary(Duration.ofSeconds(30));
        }
    }

    private static String get(HttpClient http, int port, String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
            return "";
        }
    }
}
