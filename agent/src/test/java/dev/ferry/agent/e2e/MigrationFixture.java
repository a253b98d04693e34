package dev.ferry.agent.e2e;

import dev.ferry.agent.run.Migration;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.cutover.CutoverRequest;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.agent.demo.DatabaseComparison;
import dev.ferry.agent.logging.LogFiles;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One migration between a fresh database on a source server and one on a target server: builds the configuration,
 * runs the agent in-process or as a child JVM (to be killed -9), requests the cutover and compares the databases.
 */
final class MigrationFixture {
    final TestPostgres sourceServer;
    final TestPostgres targetServer;
    final String database;
    final Path logDir;
    final Database source;
    final Database target;
    final List<String> extraArgs = new ArrayList<>();
    /** Where ferry itself connects: the servers, or proxies in front of them (the test's own checks go direct). */
    private String ferrySourceUri;
    private String ferryTargetUri;

    MigrationFixture(TestPostgres sourceServer, TestPostgres targetServer, String database) {
        this.sourceServer = sourceServer;
        this.targetServer = targetServer;
        this.database = database;
        sourceServer.createDatabase(database);
        targetServer.createDatabase(database);
        this.logDir = Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"), "logs-" + database).toAbsolutePath();
        try {
            Files.createDirectories(logDir);
            // Logs are appended to: a previous build's run of this test would otherwise answer this one's log assertions.
            try (var files = Files.list(logDir)) {
                for (Path file : files.toList()) if (Files.isRegularFile(file)) Files.delete(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // The servers trust local logins, so a password is accepted and ignored: it lets tests check it never leaks.
        this.source = new Database(ConnectionSpec.parse("source", withPassword(sourceServer.uri(database))), "source");
        this.target = new Database(ConnectionSpec.parse("target", withPassword(targetServer.uri(database))), "target");
        this.ferrySourceUri = sourceServer.uri(database);
        this.ferryTargetUri = targetServer.uri(database);
    }

    /** Ferry (not the test's checks) connects through these URIs from now on, e.g. to TCP proxies. */
    void connectFerryThrough(String sourceUri, String targetUri) {
        this.ferrySourceUri = sourceUri;
        this.ferryTargetUri = targetUri;
    }

    static final String PASSWORD = "s3cret-Pa55";

    private static String withPassword(String uri) {
        return uri.replace("postgres@", "postgres:" + PASSWORD + "@");
    }

    /** Fails if any log file mentions the password. */
    void assertLogsHideThePassword() {
        try (var files = Files.list(logDir)) {
            for (Path file : files.toList()) {
                if (Files.readString(file).contains(PASSWORD)) throw new AssertionError(file + " contains the password");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    MigrationConfig config(MigrationConfig.SchemaMode schemaMode, int jobs, String... acceptedRisks) {
        return new MigrationConfig(ConnectionSpec.parse("source", withPassword(ferrySourceUri)), ConnectionSpec.parse("target", withPassword(ferryTargetUri)), jobs, logDir, logDir.resolveSibling("work-" + database), schemaMode,
                MigrationConfig.NumericNanInf.KEEP, MigrationConfig.defaultSlotName(database), Set.of(acceptedRisks), Set.of(), 0, Duration.ofSeconds(1));
    }

    /** The agent running in a thread of this JVM. */
    final class InProcessAgent {
        final Thread thread;
        final AtomicReference<Object> outcome = new AtomicReference<>();

        InProcessAgent(MigrationConfig config) {
            thread = new Thread(() -> {
                try {
                    outcome.set(new Migration(config).run());
                } catch (Throwable e) {
                    outcome.set(e);
                }
            }, "test-agent-" + database);
            thread.start();
        }

        String awaitSummary(Duration timeout) throws InterruptedException {
            thread.join(timeout.toMillis());
            Object result = outcome.get();
            if (result instanceof Throwable failure) throw new AssertionError("the agent failed", failure);
            if (result == null) throw new AssertionError("the agent did not finish within " + timeout);
            return (String) result;
        }

        /** Waits until the agent streams and has written a heartbeat; fails at once if it died meanwhile. */
        void awaitStreaming(Duration timeout) {
            Deadline.await("the agent to stream", timeout, () -> {
                failIfDead();
                return state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            });
        }

        void failIfDead() {
            if (outcome.get() instanceof Throwable failure) throw new AssertionError("the agent failed", failure);
        }
    }

    InProcessAgent startInProcess(MigrationConfig config) {
        LogSetup.toDirectory(logDir, System.out, false);
        return new InProcessAgent(config);
    }

    /** The agent with its console on System.out as `ferry run` sets it up on a terminal, or not. */
    InProcessAgent startInProcess(MigrationConfig config, boolean terminalConsole) {
        return startInProcess(config, LogFiles.in(logDir), terminalConsole);
    }

    /** The agent with its log files kept as {@code files} says. */
    InProcessAgent startInProcess(MigrationConfig config, LogFiles files, boolean terminalConsole) {
        LogSetup.toDirectory(files, System.out, false, terminalConsole);
        return new InProcessAgent(config);
    }

    /** `ferry run` in a child JVM, so the test can kill it with SIGKILL like a crash. */
    Process startChild(int jobs, String schemaMode) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "dev.ferry.agent.cli.Main", "run",
                "--source", withPassword(ferrySourceUri), "--target", withPassword(ferryTargetUri),
                "--jobs", String.valueOf(jobs), "--schema", schemaMode, "--log-dir", logDir.toString(),
                "--work-dir", logDir.resolveSibling("work-" + database).toString()));
        command.addAll(extraArgs);
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logDir.resolve("child-console.log").toFile())).start();
    }

    /**
     * Waits up to {@code timeout} until {@code done}, while the child agent {@code who} ("the restarted agent") runs;
     * fails naming its exit code and the logs if it exits first.
     */
    void awaitWhileRunning(Process agent, String who, String what, Duration timeout, BooleanSupplier done) {
        Deadline.await(what, timeout, () -> {
            if (!agent.isAlive()) throw new AssertionError(who + " exited with " + agent.exitValue() + "; see " + logDir);
            return done.getAsBoolean();
        });
    }

    /** Waits until the child agent streams with a heartbeat of its own, which the cutover asks for. */
    void awaitStreamingChild(Process agent, String who, String what, Duration timeout) {
        awaitWhileRunning(agent, who, what, timeout,
                () -> state().filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent());
    }

    /** Cuts over through the child agent: the summary says the migration finished, and the agent exits within 60 s. */
    String cutoverUntilExit(Process agent, Duration timeout) throws SQLException, InterruptedException {
        String summary = cutover(timeout);
        assertTrue(summary.contains("migration finished"), summary);
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
        return summary;
    }

    /** The target holds exactly the source's rows and sequences. */
    void assertIdentical() throws SQLException {
        ComparisonResult result = compare();
        assertTrue(result.identical(), String.join("\n", result.differences()));
    }

    Optional<MigrationState> state() {
        try (Connection c = target.open()) {
            return new StateStore().load(c);
        } catch (SQLException e) {
            return Optional.empty();
        }
    }

    String cutover(Duration timeout) throws SQLException {
        StringWriter progress = new StringWriter();
        return new CutoverRequest(source, target).run(timeout, new PrintWriter(progress));
    }

    ComparisonResult compare() throws SQLException {
        try (Connection s = source.open(); Connection t = target.open()) {
            return DatabaseComparison.compare(s, t);
        }
    }

    String log(String file) {
        try {
            Path path = logDir.resolve(file);
            return Files.exists(path) ? Files.readString(path) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    long slotCount() {
        return Long.parseLong(sourceServer.queryValue(database, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
    }
}
