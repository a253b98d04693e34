package dev.ferry.agent.schema;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Copies the schema with pg_dump and pg_restore: pre-data (types, tables, functions, sequences) before the data,
 * post-data (indexes, constraints, triggers) after it, so the copy does not maintain indexes row by row and the
 * indexes are built in parallel at the end. Objects come without owners, privileges or tablespaces.
 * Both steps can run again after a crash: objects that already exist on the target are left as they are.
 */
public final class SchemaCopy {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /**
     * What pg_restore may report on a rerun without it being a failure: the object is there from the first attempt,
     * or the restoring role may not comment on an extension it does not own.
     */
    private static final List<String> HARMLESS = List.of("already exists", "is already a partition", "multiple primary keys",
            "must be owner of extension");

    private final MigrationConfig config;
    private PgTools tools;

    public SchemaCopy(MigrationConfig config) {
        this.config = config;
    }

    /** Fails with the fix when pg_dump/pg_restore are missing or older than the source's major version. */
    public void checkTools(int sourceMajor) {
        tools = PgTools.find(sourceMajor);
        log.info("using {} (version {}) and {}", tools.pgDump(), tools.major(), tools.pgRestore());
    }

    /** Restores pre-data on the target; with a snapshot name the dump sees exactly the copy's snapshot. Safe to run again. */
    public void copyPreData(Optional<String> snapshotName) {
        Path dump = dump("pre-data", snapshotName);
        restore("pre-data", dump, 1);
    }

    /** Builds indexes, constraints and triggers on the target after the data is in; skips what already exists. */
    public void copyPostData() {
        Path dump = dump("post-data", Optional.empty());
        restore("post-data", dump, config.jobs());
    }

    private Path dump(String section, Optional<String> snapshotName) {
        requireTools();
        Path file = config.workDir().resolve(section + ".dump");
        try {
            Files.createDirectories(config.workDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the work directory " + config.workDir(), e);
        }
        List<String> command = new ArrayList<>(List.of(tools.pgDump().toString(), "--schema-only", "--section=" + section,
                "--format=custom", "--file=" + file, "--exclude-schema=ferry", "--no-tablespaces"));
        snapshotName.ifPresent(name -> command.add("--snapshot=" + name));
        for (QualifiedName excluded : config.excludeTables()) command.add("--exclude-table=" + excluded);
        command.add("--dbname=" + config.source().libpqUri());
        ToolRun.Result result = ToolRun.run(command, config.source());
        if (result.exitCode() != 0) {
            throw new FerryException("pg_dump of the source's " + section + " schema failed (exit " + result.exitCode() + ").",
                    lastLines(result.errorLines()),
                    "fix what pg_dump says (schema.log has its whole output), then run the same `ferry run` again.");
        }
        log.info("dumped the source's {} schema in {} s", section, String.format("%.1f", result.seconds()));
        return file;
    }

    private void restore(String section, Path dump, int jobs) {
        List<String> command = new ArrayList<>(List.of(tools.pgRestore().toString(), "--section=" + section,
                "--no-owner", "--no-privileges", "--no-tablespaces", "--jobs=" + jobs,
                "--dbname=" + config.target().libpqUri(), dump.toString()));
        ToolRun.Result result = ToolRun.run(command, config.target());
        List<String> errors = result.errorLines().stream().filter(line -> line.contains("ERROR:")).toList();
        List<String> harmful = errors.stream().filter(line -> HARMLESS.stream().noneMatch(line::contains)).toList();
        if (result.exitCode() != 0 && (!harmful.isEmpty() || errors.isEmpty())) {
            throw new FerryException("restoring the " + section + " schema on the target failed.",
                    (harmful.isEmpty() ? lastLines(result.errorLines()) : harmful.stream().limit(5).collect(Collectors.joining("\n"))),
                    "fix the cause on the target (schema.log has pg_restore's whole output), then run the same `ferry run` again; "
                            + "objects already restored are kept.");
        }
        if (!errors.isEmpty()) {
            log.info("{}: {} objects existed already on the target (an earlier attempt restored them) and were kept", section, errors.size());
        }
        log.info("restored the {} schema on the target in {} s{}", section, String.format("%.1f", result.seconds()),
                jobs > 1 ? " with " + jobs + " parallel jobs" : "");
    }

    private void requireTools() {
        if (tools == null) throw new IllegalStateException("checkTools must run before the schema is copied");
    }

    private static String lastLines(List<String> lines) {
        return lines.stream().skip(Math.max(0, lines.size() - 5)).collect(Collectors.joining("\n"));
    }
}
