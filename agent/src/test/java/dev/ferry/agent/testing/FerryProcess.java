package dev.ferry.agent.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one `ferry ...` command line in a child JVM and keeps its real console (stdout and stderr as the process wrote
 * them, Logback's console appender included), for tests of what a person sees in a terminal or `docker logs`.
 */
public record FerryProcess(int code, String out, String err) {
    public static FerryProcess run(Path scratch, Duration timeout, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "dev.ferry.agent.cli.Main"));
        command.addAll(List.of(args));
        try {
            Files.createDirectories(scratch);
            Path out = Files.createTempFile(scratch, "stdout", ".txt");
            Path err = Files.createTempFile(scratch, "stderr", ".txt");
            Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("ferry " + String.join(" ", args) + " did not exit within " + timeout);
            }
            return new FerryProcess(process.exitValue(), Files.readString(out), Files.readString(err));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Both streams, for assertion messages. */
    public String console() {
        return "--- stdout\n" + out + "--- stderr\n" + err;
    }

    /** True when the console shows a Java stack trace (a frame line of any exception). */
    public boolean showsStackTrace() {
        return (out + err).lines().anyMatch(line -> line.startsWith("\tat ") || line.matches("\\s+at [\\w$.]+\\(.*\\)"));
    }
}
