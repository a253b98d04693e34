package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.tools.PgDumpTool;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.name.QualifiedName;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One section of the source's schema as a pg_dump custom-format file in the work directory, its table of contents,
 * and pg_restore runs of a chosen part of it into the target.
 */
final class SchemaDump {
    static final List<String> TIMESCALEDB_SCHEMAS = List.of("_timescaledb_catalog", "_timescaledb_internal", "_timescaledb_config",
            "_timescaledb_cache", "_timescaledb_functions", "_timescaledb_debug", "timescaledb_information", "timescaledb_experimental");

    private final MigrationConfig config;
    private final PgDumpTool tool;
    private final String section;
    private final Path file;
    private final List<String> filterOptions;
    /** With --schema-map: the scratch database the dump was renamed in, until {@link #close()}. */
    private SchemaRename rename;

    /**
     * @param section       "pre-data" or "post-data"
     * @param filterOptions what the table filter leaves out, as pg_dump options ({@link DumpFilter})
     */
    SchemaDump(MigrationConfig config, PgDumpTool tool, String section, List<String> filterOptions) {
        this.config = config;
        this.tool = tool;
        this.section = section;
        this.filterOptions = List.copyOf(filterOptions);
        this.file = config.workDir().resolve(section + ".dump");
    }

    String section() { return section; }

    /**
     * Dumps the section from the source. Ferry's own schema, what the table filter leaves out, and the source's publications and
     * subscriptions (ferry's among them) stay out of it.
     */
    void dump(Optional<String> snapshotName) {
        createWorkDir();
        boolean renaming = !config.schemaMap().isEmpty();
        // To be renamed, the scratch database needs every section: post-data's objects refer to pre-data's.
        Path sourceFile = renaming ? config.workDir().resolve(section + ".source.dump") : file;
        List<String> command = new ArrayList<>(List.of(tool.pgDump().toString(), "--schema-only", "--format=custom", "--no-publications",
                "--no-subscriptions", "--exclude-schema=ferry", "--exclude-schema=" + config.stateSchema(), "--file=" + sourceFile));
        if (!renaming) command.add(2, "--section=" + section);
        snapshotName.ifPresent(name -> command.add("--snapshot=" + name));
        command.addAll(filterOptions);
        // TimescaleDB's own schemas: its catalog, chunks and internal tables are its business, not restored as data (the
        // extension on the target keeps its own); hypertables are made on the target from their definitions
        // (Hypertables). Left out, pg_dump also takes no lock on the chunks. Patterns that match nothing are no error.
        for (String schema : TIMESCALEDB_SCHEMAS) command.add("--exclude-schema=" + schema);
        command.add("--dbname=" + config.source().libpqUri());
        ToolRun.Result result = ToolRun.run(command, config.source().libpqEnvironment(), null, config.workDir().resolve(section + ".dump.log"));
        if (!result.ok()) {
            throw new FerryException("pg_dump could not dump the " + section + " schema of " + config.source().masked() + ":",
                    result.errors(),
                    snapshotName.isPresent()
                            ? "if the message names the snapshot, the slot's snapshot was released before the dump; run ferry again to start over. Otherwise fix what it names and run ferry again."
                            : "fix what the message names (often a permission: the user needs to read every table's definition), then run ferry again.",
                    ExitCode.FAILED, ToolFailure.cause("pg_dump", result));
        }
        if (renaming) {
            rename = new SchemaRename(config, tool, section);
            rename.rename(sourceFile, file);
        }
    }

    /**
     * A connection to the catalog the dump's OIDs refer to: {@code source} itself (not to be closed by the caller),
     * or with --schema-map a new connection to the scratch database the schemas were renamed in.
     */
    Connection catalog(Connection source) {
        return rename == null ? source : rename.catalog();
    }

    /** Closes a connection {@link #catalog} opened, and drops the scratch database of a renamed dump. */
    void close(Connection catalog) throws SQLException {
        if (rename == null) return;
        try {
            catalog.close();
        } finally {
            rename.close();
            rename = null;
        }
    }

    /** The dump's table of contents, as {@code pg_restore -l} prints it. */
    List<TocEntry> entries() {
        Path listing = config.workDir().resolve(section + ".toc");
        ToolRun.Result result = ToolRun.run(List.of(tool.pgRestore().toString(), "--list", file.toString()), Map.of(), listing,
                config.workDir().resolve(section + ".toc.log"));
        if (!result.ok()) {
            throw new FerryException("pg_restore could not read " + file + ":", result.errors(),
                    "delete the file and run ferry again; it will be dumped anew.", ExitCode.FAILED, null);
        }
        try {
            return TocEntry.parse(Files.readString(listing, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new FerryException("could not read " + listing + ".", e.getMessage(), "check the work directory, then run ferry again.", ExitCode.FAILED, e);
        }
    }

    /** Restores exactly {@code selected} into the target with pg_restore's {@code options}; fails with the tool's message. */
    void restore(List<TocEntry> selected, List<String> options, String fix) {
        restore(selected, options, Map.of(), fix);
    }

    /** @param environment added to pg_restore's, e.g. {@code PGOPTIONS} with settings for its sessions */
    void restore(List<TocEntry> selected, List<String> options, Map<String, String> environment, String fix) {
        Path list = config.workDir().resolve(section + ".restore.list");
        StringBuilder text = new StringBuilder("; entries ferry restores; the others already exist on the target or are not copied\n");
        for (TocEntry e : selected) text.append(e.line()).append('\n');
        try {
            Files.writeString(list, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new FerryException("could not write " + list + ".", e.getMessage(), "check the work directory, then run ferry again.", ExitCode.FAILED, e);
        }
        List<String> command = new ArrayList<>(List.of(tool.pgRestore().toString(), "--no-owner", "--no-privileges", "--no-tablespaces",
                "--section=" + section, "--exit-on-error", "--use-list=" + list));
        command.addAll(options);
        command.add("--dbname=" + config.target().libpqUri());
        command.add(file.toString());
        Map<String, String> env = new HashMap<>(config.target().libpqEnvironment());
        env.putAll(environment);
        env.put("PGAPPNAME", ToolRun.applicationName(config.slotName()));
        ToolRun.Result result = ToolRun.run(command, env, null, config.workDir().resolve(section + ".restore.log"));
        if (!result.ok()) {
            // A lost connection or a full disk makes the cause transient: the migration waits and restores this section again.
            throw new FerryException("pg_restore could not restore the " + section + " schema into " + config.target().masked() + ":",
                    result.errors(), fix, ExitCode.FAILED, ToolFailure.cause("pg_restore", result));
        }
    }

    private void createWorkDir() {
        try {
            Files.createDirectories(config.workDir());
        } catch (IOException e) {
            throw new FerryException("could not create the work directory '" + config.workDir() + "'.", e.getMessage(),
                    "pass --work-dir with a writable directory.", ExitCode.BAD_INPUT, e);
        }
    }
}
