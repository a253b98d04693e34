package dev.ferry.agent.logging;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.io.IOException;
import java.io.PrintStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The log directory stays bounded however long a migration logs, JSON lines carry the stage, table and LSN, and the
 * apply stage writes into stream.log, the one file users read for the stream phase.
 */
@Timeout(60)
class LogRotationTest {
    private static final Path ROOT = Path.of(System.getProperty("ferry.test.tmp", "target/test-tmp"));

    @AfterEach
    void backToConsole() {
        LogSetup.consoleOnly(System.err, false);
    }

    @Test
    void filesRollOverBySizeAndOnlyTheNewestArchivesAreKept() throws IOException {
        Path dir = Files.createTempDirectory(Files.createDirectories(ROOT), "rotation");
        LogFiles files = new LogFiles(dir, LogFiles.Format.TEXT, 4096, 3);
        LogSetup.toDirectory(files, new PrintStream(new ByteArrayOutputStream()), false, false);
        Logger stream = LoggerFactory.getLogger("ferry.stream");
        String line = "x".repeat(200);
        for (int i = 0; i < 5000; i++) stream.info("applied change {} {}", i, line);

        List<String> names = names(dir);
        assertTrue(names.contains("stream.log") && names.contains("stream.1.log.gz") && names.contains("stream.3.log.gz"), names.toString());
        assertFalse(names.contains("stream.4.log.gz"), names.toString());
        // Each live file stops a line past its limit; archives hold at most that much, compressed.
        long bound = 2L * (1 + files.keptFiles()) * (files.maxFileBytes() + 512);
        assertTrue(size(dir) < bound, "log directory holds " + size(dir) + " bytes, bound " + bound + ": " + names);
        assertTrue(Files.readString(dir.resolve("stream.log")).contains("applied change 4999 "), "the newest line is in the live file");
    }

    @Test
    void jsonLinesCarryTheStageTableAndLsn() throws IOException {
        Path dir = Files.createTempDirectory(Files.createDirectories(ROOT), "json");
        LogSetup.toDirectory(new LogFiles(dir, LogFiles.Format.JSON, LogFiles.DEFAULT_MAX_FILE_BYTES, 2), new PrintStream(new ByteArrayOutputStream()), false, false);
        MDC.put("table", "\"public\".\"orders\"");
        MDC.put("lsn", "0/16B3748");
        try {
            LoggerFactory.getLogger("ferry.snapshot").info("copied {}: {} rows", "\"public\".\"orders\"", 42);
        } finally {
            MDC.clear();
        }
        List<String> lines = Files.readAllLines(dir.resolve("snapshot.log"));
        assertEquals(1, lines.size(), lines.toString());
        String json = lines.get(0);
        assertTrue(Pattern.matches("^\\{.*}$", json), json);
        assertTrue(json.contains("\"level\":\"INFO\"") && json.contains("\"loggerName\":\"ferry.snapshot\""), json);
        assertTrue(json.contains("\"lsn\":\"0\\/16B3748\"") && json.contains("\"table\":\"\\\"public\\\".\\\"orders\\\"\""), json);
        assertTrue(json.contains("copied \\\"public\\\".\\\"orders\\\": 42 rows"), json);
    }

    @Test
    void theApplyStageWritesIntoStreamLog() throws IOException {
        Path dir = Files.createTempDirectory(Files.createDirectories(ROOT), "apply");
        LogSetup.toDirectory(new LogFiles(dir, LogFiles.Format.TEXT, LogFiles.DEFAULT_MAX_FILE_BYTES, 2), new PrintStream(new ByteArrayOutputStream()), false, false);
        LoggerFactory.getLogger("ferry.apply").warn("an UPDATE or DELETE from the source found no matching row on the target");
        LoggerFactory.getLogger("ferry.stream").info("replayed big transaction");

        String stream = Files.readString(dir.resolve("stream.log"));
        assertTrue(stream.contains(" apply an UPDATE or DELETE from the source found no matching row") && stream.contains(" stream replayed big transaction"), stream);
        assertFalse(Files.readString(dir.resolve("snapshot.log")).contains("no matching row"), "other stages' files hold their own loggers only");
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static long size(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
