package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.tools.PgDumpTool;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * One source table's definition as pg_dump writes it (the table, its owned sequences, identity, keys, indexes,
 * constraints, triggers), for a table created on the source during the migration. Owners, privileges and
 * tablespaces are left out as in the schema copy.
 */
public final class TableDefinition {
    private TableDefinition() {}

    /** The SQL script that creates {@code table}, without psql's meta-commands (\restrict). */
    public static String dump(MigrationConfig config, int sourceMajor, QualifiedName table) {
        PgDumpTool tool = PgDumpTool.find(sourceMajor, config.pgDumpDir());
        Path dir = config.workDir().resolve("new-tables");
        String file = (table.schema() + "." + table.name()).replaceAll("[^A-Za-z0-9_.-]", "_");
        Path script = dir.resolve(file + ".sql");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new FerryException("could not create the work directory '" + dir + "'.", e.getMessage(), "pass --work-dir with a writable directory.", ExitCode.BAD_INPUT, e);
        }
        // A quoted name is a literal pattern for pg_dump: exactly this table.
        List<String> command = List.of(tool.pgDump().toString(), "--schema-only", "--format=plain", "--no-owner", "--no-privileges",
                "--no-tablespaces", "--no-publications", "--no-subscriptions", "--table=" + table, "--file=" + script,
                "--dbname=" + config.source().libpqUri());
        ToolRun.Result result = ToolRun.run(command, config.source().libpqEnvironment(), null, dir.resolve(file + ".log"));
        if (!result.ok()) {
            throw new FerryException("pg_dump could not dump the definition of " + table + ", created on the source during the migration:", result.errors(),
                    "fix what the message names, or create the table on the target by hand; then run `ferry run` again.", ExitCode.FAILED, null);
        }
        try {
            return Files.readAllLines(script, StandardCharsets.UTF_8).stream().filter(line -> !line.startsWith("\\")).collect(Collectors.joining("\n"));
        } catch (IOException e) {
            throw new FerryException("could not read " + script + ".", e.getMessage(), "check the work directory, then run ferry again.", ExitCode.FAILED, e);
        }
    }
}
