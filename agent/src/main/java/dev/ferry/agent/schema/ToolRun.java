package dev.ferry.agent.schema;

import dev.ferry.agent.config.ConnectionSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one pg_dump or pg_restore and collects what it printed. The password travels in the child's environment
 * (PGPASSWORD), never on its command line, where `ps` would show it.
 */
final class ToolRun {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    record Result(int exitCode, List<String> errorLines, double seconds) {}

    static Result run(List<String> command, ConnectionSpec connection) {
        long started = System.nanoTime();
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(connection.libpqEnvironment());
        builder.environment().put("PGAPPNAME", "ferry");
        log.debug("running {}", String.join(" ", command));
        try {
            Process process = builder.start();
            process.getOutputStream().close();
            List<String> lines = new ArrayList<>();
            try (var reader = process.inputReader(StandardCharsets.UTF_8)) {
                String line;
                while ((line = reader.readLine()) != null) {
                    lines.add(line);
                    log.debug("{}: {}", command.get(0).substring(command.get(0).lastIndexOf('/') + 1), line);
                }
            }
            int exit = process.waitFor();
            return new Result(exit, lines, (System.nanoTime() - started) / 1e9);
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + command.get(0), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + command.get(0), e);
        }
    }
}
