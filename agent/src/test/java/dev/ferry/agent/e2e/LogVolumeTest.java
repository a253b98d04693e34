package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.demo.SampleDatabase;
import dev.ferry.agent.demo.Workload;
import dev.ferry.agent.logging.LogFiles;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The log volume of a live migration: every file rolls over and the directory stays under its bound while the stream
 * runs, and the password is in no log file (archives included) and nowhere on the console.
 */
@Timeout(300)
class LogVolumeTest extends TwoServers {
    @Test
    void aStreamingMigrationKeepsItsLogDirectoryBoundedAndNeverLogsThePassword() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "log_volume");
        try (Connection c = migration.source.open()) {
            SampleDatabase.create(c, 500);
        }
        LogFiles files = new LogFiles(migration.logDir, LogFiles.Format.TEXT, 1024, 2);
        PrintStream original = System.out;
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
        try (Workload workload = new Workload(migration.source::open, 3)) {
            workload.start();
            MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2), files, false);
            Deadline.await("the agent to stream", Duration.ofMinutes(2), () -> {
                agent.failIfDead();
                return migration.state().filter(s -> s.phase() == MigrationState.Phase.STREAM).isPresent();
            });
            // ferry.log (every line) has filled its window of archives; stream.log (a progress line every 5 s) has rolled over.
            Deadline.await("ferry.log to roll over twice and stream.log once", Duration.ofMinutes(2), () -> {
                agent.failIfDead();
                return names(migration.logDir).containsAll(List.of("ferry.2.log.gz", "stream.1.log.gz"));
            });
            workload.close();
            migration.cutover(Duration.ofMinutes(1));
            agent.awaitSummary(Duration.ofSeconds(30));
        } finally {
            System.setOut(original);
        }

        List<String> names = names(migration.logDir);
        assertFalse(names.contains("ferry.3.log.gz") || names.contains("stream.3.log.gz"), "only two archives are kept: " + names);
        long logBytes = 0;
        for (String name : names) {
            if (!name.endsWith(".log") && !name.endsWith(".log.gz")) continue;
            Path file = migration.logDir.resolve(name);
            logBytes += Files.size(file);
            assertFalse(read(file).contains(MigrationFixture.PASSWORD), name + " contains the password");
        }
        // Six files, each at most its size plus a line, and two archives each, compressed or not.
        long bound = 6L * 3 * (files.maxFileBytes() + 4096);
        assertTrue(logBytes < bound, "the log files hold " + logBytes + " bytes, over the bound of " + bound + ": " + names);
        String out = console.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("streaming: applied"), "the console was captured: " + out.length() + " characters");
        assertFalse(out.contains(MigrationFixture.PASSWORD), "the console shows the password");
    }

    private static List<String> names(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) throws IOException {
        if (!file.toString().endsWith(".gz")) return Files.readString(file);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
