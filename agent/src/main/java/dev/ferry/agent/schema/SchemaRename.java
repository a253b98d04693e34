package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.tools.PgDumpTool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code --schema-map}: turns the source's schema dump into one whose schemas carry the target's names. pg_dump writes
 * SQL text that names schemas everywhere (and inside string literals, as in {@code nextval('public.s'::regclass)}), so
 * rewriting that text is guesswork. Instead the dump is restored into a scratch database on the target server, the
 * schemas are renamed there with {@code ALTER SCHEMA ... RENAME}, and that database is dumped again: whatever the
 * catalog stores as a reference (column defaults, views, constraints, triggers, sequences owned by columns, types)
 * follows the rename exactly, because the server does it. What is stored as text does not: function bodies and
 * {@code SET search_path} (preflight's schema-map-functions names them). Extensions stay in the schema they were in.
 * <p>
 * The scratch database lives as long as the section's restore needs it: the TOC entries of the renamed dump carry
 * its OIDs, so the restore's catalog look-ups go to it ({@link #catalog()}); {@link #close()} drops it.
 */
public final class SchemaRename implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    private final MigrationConfig config;
    private final PgDumpTool tool;
    private final String section;
    private final ConnectionSpec scratch;

    SchemaRename(MigrationConfig config, PgDumpTool tool, String section) {
        this.config = config;
        this.tool = tool;
        this.section = section;
        // One per migration and section: two migrations into one target, and the post-data dump running while the
        // pre-data one is still looked up, never share one.
        this.scratch = config.target().withDatabase(scratchDatabases(config.stateSchema()).get(section.equals("pre-data") ? 0 : 1));
    }

    /** NOTE: documented in docs/compatibility.md; `ferry clean` drops those a crash left. Pre-data's, then post-data's. */
    public static List<String> scratchDatabases(String stateSchema) {
        return List.of(stateSchema + "_scratch_pre", stateSchema + "_scratch_post");
    }

    /**
     * Restores {@code wholeSchema} (a schema-only dump of every section) into a new scratch database, renames its
     * schemas, and dumps this section of it into {@code renamed}.
     */
    void rename(Path wholeSchema, Path renamed) {
        long start = System.nanoTime();
        Database server = new Database(config.target(), "target");
        try (Connection admin = server.open(); Statement s = admin.createStatement()) {
            // Left by a run that stopped before dropping it: its content is from an older snapshot.
            s.execute("DROP DATABASE IF EXISTS " + QualifiedName.quote(scratch.database()));
            s.execute("CREATE DATABASE " + QualifiedName.quote(scratch.database()) + " TEMPLATE template0");
        } catch (SQLException e) {
            throw new FerryException("could not create the scratch database " + QualifiedName.quote(scratch.database()) + " on the target server for --schema-map:",
                    e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                    "the target role needs CREATEDB (ALTER ROLE ... CREATEDB), or leave --schema-map out. Nothing of the schema was restored yet.",
                    ExitCode.FAILED, e);
        }
        run(List.of(tool.pgRestore().toString(), "--no-owner", "--no-privileges", "--no-tablespaces", "--exit-on-error", "--single-transaction",
                "--use-list=" + restorable(wholeSchema), "--dbname=" + scratch.libpqUri(), wholeSchema.toString()),
                "restore the source's schema into the scratch database");
        try (Connection c = new Database(scratch, "target").open()) {
            renameSchemas(c);
        } catch (SQLException e) {
            throw new FerryException("could not rename the schemas in the scratch database " + QualifiedName.quote(scratch.database()) + ":",
                    e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                    "check --schema-map " + config.schemaMap() + " against the source's schemas (`ferry preflight` shows it), then run ferry again.",
                    ExitCode.FAILED, e);
        }
        run(List.of(tool.pgDump().toString(), "--schema-only", "--section=" + section, "--format=custom", "--file=" + renamed,
                "--dbname=" + scratch.libpqUri()), "dump the renamed schema from the scratch database");
        log.info("{}: renamed schemas {} in scratch database {} in {}", section, config.schemaMap(), QualifiedName.quote(scratch.database()),
                String.format("%.1f s", (System.nanoTime() - start) / 1e9));
    }

    /**
     * Two passes through temporary names, so a map that swaps two schemas works; an extension in a renamed schema is
     * moved back to a schema of the old name, since the target may already have it there (from another source).
     */
    private void renameSchemas(Connection c) throws SQLException {
        SchemaMap map = config.schemaMap();
        Map<String, List<String>> extensionsIn = new java.util.HashMap<>();
        List<String> present = new ArrayList<>();
        for (String from : map.renames().keySet()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT e.extname FROM pg_namespace n LEFT JOIN pg_extension e ON e.extnamespace = n.oid WHERE n.nspname = ?")) {
                ps.setString(1, from);
                try (ResultSet rs = ps.executeQuery()) {
                    boolean exists = false;
                    List<String> extensions = new ArrayList<>();
                    while (rs.next()) {
                        exists = true;
                        if (rs.getString(1) != null) extensions.add(rs.getString(1));
                    }
                    if (exists) present.add(from);
                    extensionsIn.put(from, extensions);
                }
            }
        }
        try (Statement s = c.createStatement()) {
            int n = 0;
            for (String from : present) s.execute("ALTER SCHEMA " + QualifiedName.quote(from) + " RENAME TO " + QualifiedName.quote("ferry_renaming_" + n++));
            n = 0;
            for (String from : present) {
                s.execute("ALTER SCHEMA " + QualifiedName.quote("ferry_renaming_" + n++) + " RENAME TO " + QualifiedName.quote(map.target(from)));
            }
            for (String from : present) {
                if (extensionsIn.get(from).isEmpty()) continue;
                s.execute("CREATE SCHEMA IF NOT EXISTS " + QualifiedName.quote(from));
                for (String extension : extensionsIn.get(from)) {
                    try {
                        s.execute("ALTER EXTENSION " + QualifiedName.quote(extension) + " SET SCHEMA " + QualifiedName.quote(from));
                    } catch (SQLException e) {
                        throw new FerryException("extension " + QualifiedName.quote(extension) + " is in schema " + QualifiedName.quote(from)
                                + ", which --schema-map renames, and it cannot be moved (" + e.getMessage() + ").",
                                "an extension belongs to the whole target database; ferry keeps each where the source has it, so that two sources"
                                        + " merged into one target share it, and that needs a relocatable extension.",
                                "on the source, create the extension in a schema of its own (e.g. CREATE SCHEMA extensions; ALTER EXTENSION ... SET"
                                        + " SCHEMA extensions, or drop and recreate it there), or leave --schema-map out.", ExitCode.BAD_INPUT, e);
                    }
                }
            }
        }
        for (String from : map.renames().keySet()) {
            if (!present.contains(from)) log.warn("{}: --schema-map names schema {}, which the source does not have; nothing renamed", section, QualifiedName.quote(from));
        }
    }

    /**
     * The dump's entries less what ferry never restores (event triggers need a superuser and would fire on the restore
     * itself; publications and subscriptions are the source server's; an extension's comment needs its owner).
     */
    private Path restorable(Path wholeSchema) {
        Path listing = config.workDir().resolve(section + ".source.toc");
        run(List.of(tool.pgRestore().toString(), "--list", "--file=" + listing, wholeSchema.toString()), "list the source's schema dump");
        try {
            StringBuilder kept = new StringBuilder();
            for (TocEntry entry : TocEntry.parse(Files.readString(listing, StandardCharsets.UTF_8))) {
                if (!entry.isSourceOnly() && !entry.isExtensionComment()) kept.append(entry.line()).append('\n');
            }
            Path list = config.workDir().resolve(section + ".source.restore.list");
            Files.writeString(list, kept, StandardCharsets.UTF_8);
            return list;
        } catch (IOException e) {
            throw new FerryException("could not read or write " + listing + ".", e.getMessage(), "check the work directory, then run ferry again.",
                    ExitCode.FAILED, e);
        }
    }

    /** The scratch database, whose catalog the renamed dump's OIDs refer to. */
    Connection catalog() {
        return new Database(scratch, "target").open();
    }

    /** Drops the scratch database; a failure is only logged: the next run drops it before making it again. */
    @Override
    public void close() {
        try (Connection admin = new Database(config.target(), "target").open(); Statement s = admin.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + QualifiedName.quote(scratch.database()));
        } catch (SQLException | RuntimeException e) {
            log.warn("could not drop the scratch database {} on the target server: {}; drop it by hand, or the next run does", QualifiedName.quote(scratch.database()), e.getMessage());
        }
    }

    private void run(List<String> command, String what) {
        ToolRun.Result result = ToolRun.run(command, config.target().libpqEnvironment(), null, config.workDir().resolve(section + ".rename.log"));
        if (!result.ok()) {
            throw new FerryException("--schema-map: could not " + what + " (" + QualifiedName.quote(scratch.database()) + "):", result.errors(),
                    "fix what the message names (often an extension the target server lacks, or a missing role), then run ferry again.",
                    ExitCode.FAILED, null);
        }
    }
}
