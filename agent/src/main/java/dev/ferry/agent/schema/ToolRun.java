package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one pg_dump or pg_restore and waits for it. Output goes to files (no pipe can fill up and stall the tool);
 * stderr is logged line by line on {@code ferry.schema}. Commands never carry a password: the URI has none, and
 * a password given as {@code PGPASSWORD} is handed to the tool in a password file of its own instead
 * ({@code PGPASSFILE}, mode 0600, deleted when the tool ends), so it is in neither the tool's command line nor its
 * environment, which {@code ps e} and {@code /proc/PID/environ} show.
 */
final class ToolRun {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /** What the tool printed on stderr, and its exit status. */
    record Result(int exitCode, String stderr) {
        boolean ok() { return exitCode == 0; }

        /** The lines that say what went wrong, without pg_restore's progress chatter. */
        String errors() {
            StringBuilder out = new StringBuilder();
            for (String line : stderr.split("\n")) {
                if (line.contains("error") || line.contains("ERROR") || line.contains("FATAL") || line.contains("DETAIL")
                        || line.contains("HINT") || line.contains("Command was") || line.contains("TOC entry")) {
                    out.append(out.length() == 0 ? "" : "\n").append(line.strip());
                }
            }
            return out.length() == 0 ? stderr.strip() : out.toString();
        }
    }

    /** The tools' application_name, unless the caller names the migration ({@link #applicationName}). */
    static final String APPLICATION_NAME = "ferry-schema";

    /** A restore's application_name: LeftoverRestores finds this migration's sessions by it, and no other's. */
    static String applicationName(String slotName) {
        return APPLICATION_NAME + " " + slotName;
    }

    private ToolRun() {}

    /**
     * @param stdout where standard output goes (a listing, or null to discard it)
     * @param stderrFile where standard error is kept while the tool runs
     */
    static Result run(List<String> command, Map<String, String> environment, Path stdout, Path stderrFile) {
        Map<String, String> env = new HashMap<>(environment);
        String password = env.remove(PASSWORD);
        Path passFile = password == null ? null : passFile(stderrFile.toAbsolutePath().getParent(), password);
        try {
            if (passFile != null) env.put("PGPASSFILE", passFile.toString());
            return start(command, env, stdout, stderrFile);
        } finally {
            if (passFile != null) {
                try {
                    Files.deleteIfExists(passFile);
                } catch (IOException e) {
                    log.warn("could not delete the password file {} ({}); delete it by hand", passFile, e.getMessage());
                }
            }
        }
    }

    private static final String PASSWORD = "PGPASSWORD";

    /** A libpq password file that gives {@code password} to any host, port, database and user, readable by this user only. */
    private static Path passFile(Path dir, String password) {
        try {
            Path file = Files.createTempFile(dir, "pgpass-", "", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            // libpq's format: fields separated by ':', with ':' and '\' in them escaped by '\'.
            Files.writeString(file, "*:*:*:*:" + password.replace("\\", "\\\\").replace(":", "\\:") + "\n", StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new FerryException("could not write a password file for pg_dump/pg_restore in " + dir + ".", e.getMessage(),
                    "check that the work directory (--work-dir) is writable, then run ferry again.", ExitCode.FAILED, e);
        }
    }

    private static Result start(List<String> command, Map<String, String> environment, Path stdout, Path stderrFile) {
        log.debug("running {}", String.join(" ", command));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectError(stderrFile.toFile())
                .redirectOutput(stdout == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(stdout.toFile()));
        // The tool must not pick up a password of ferry's own environment either: it gets only the one it is given.
        builder.environment().remove(PASSWORD);
        builder.environment().putAll(environment);
        if (!environment.containsKey("PGAPPNAME")) builder.environment().put("PGAPPNAME", APPLICATION_NAME);
        // libpq's own errors in English: ToolFailure recognises a lost connection by their wording.
        builder.environment().put("LC_MESSAGES", "C");
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new FerryException("could not start " + command.get(0) + ".", e.getMessage(),
                    "check that the file exists and is executable, then run ferry again.", ExitCode.FAILED, e);
        }
        try {
            int exit = process.waitFor();
            String stderr = Files.readString(stderrFile, StandardCharsets.UTF_8);
            String tool = Path.of(command.get(0)).getFileName().toString();
            for (String line : stderr.split("\n")) {
                if (line.isBlank()) continue;
                String shown = line.startsWith(tool + ":") ? line : tool + ": " + line;
                if (exit != 0 || line.contains("warning") || line.contains("error")) log.warn("{}", shown);
                else log.info("{}", shown);
            }
            return new Result(exit, stderr);
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            throw FerryException.interrupted(command.get(0) + " was interrupted.", "run the same command again; the schema stage picks up where it stopped.", e);
        } catch (IOException e) {
            throw new FerryException("could not read what " + command.get(0) + " printed.", e.getMessage(),
                    "check that the work directory is writable, then run ferry again.", ExitCode.FAILED, e);
        }
    }
}
