package dev.ferry.agent.config;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Everything one migration needs to know, validated before anything touches the source, then passed down to every
 * stage. No stage reads flags or the environment itself.
 *
 * @param slotName       logical replication slot on the source; also names ferry's publications
 * @param jobs           parallel copy workers (and index builds)
 * @param schemaMode     copy the schema with pg_dump, or trust a schema the user prepared on the target
 * @param numericNanInf  what to do with NaN/Infinity in numeric columns
 * @param acceptRisks    preflight checks whose FAIL the user accepted by name
 * @param tables         which tables are migrated, and which of them without their rows (--include-table and the like)
 * @param metricsPort    port of the status/metrics HTTP endpoint, 0 for none
 * @param pgDumpDir      the directory of the pg_dump and pg_restore to use; empty: found on PATH or in /usr/lib/postgresql
 * @param schemaMap      source schema -> target schema renames ({@code --schema-map})
 * @param migration      {@code --migration NAME}: several migrations into one target database each have a name; absent for
 *                       the one unnamed migration a target had before names existed
 */
public record MigrationConfig(
        ConnectionSpec source,
        ConnectionSpec target,
        int jobs,
        Path logDir,
        Path workDir,
        SchemaMode schemaMode,
        NumericNanInf numericNanInf,
        String slotName,
        Set<String> acceptRisks,
        TableFilter tables,
        int metricsPort,
        Duration statusInterval,
        Optional<Path> pgDumpDir,
        SchemaMap schemaMap,
        Optional<String> migration) {

    /** How the target's schema comes to be. */
    public enum SchemaMode { COPY, EXISTING }

    /** NaN, Infinity and -Infinity in numeric columns: kept as they are, or written as NULL (and counted). */
    public enum NumericNanInf { KEEP, NULL }

    /** The configuration before table patterns and --pg-dump-dir: exactly these tables left out, tools found on PATH. */
    public MigrationConfig(ConnectionSpec source, ConnectionSpec target, int jobs, Path logDir, Path workDir, SchemaMode schemaMode,
                           NumericNanInf numericNanInf, String slotName, Set<String> acceptRisks, Set<QualifiedName> excludeTables,
                           int metricsPort, Duration statusInterval) {
        this(source, target, jobs, logDir, workDir, schemaMode, numericNanInf, slotName, acceptRisks, TableFilter.excluding(excludeTables),
                metricsPort, statusInterval, Optional.empty());
    }

    /** One unnamed migration, schemas kept as they are. */
    public MigrationConfig(ConnectionSpec source, ConnectionSpec target, int jobs, Path logDir, Path workDir, SchemaMode schemaMode,
                           NumericNanInf numericNanInf, String slotName, Set<String> acceptRisks, TableFilter tables,
                           int metricsPort, Duration statusInterval, Optional<Path> pgDumpDir) {
        this(source, target, jobs, logDir, workDir, schemaMode, numericNanInf, slotName, acceptRisks, tables, metricsPort,
                statusInterval, pgDumpDir, SchemaMap.NONE, Optional.empty());
    }

    /** Exactly these tables left out, tools found on PATH, schemas renamed by {@code schemaMap}, state under {@code migration}. */
    public MigrationConfig(ConnectionSpec source, ConnectionSpec target, int jobs, Path logDir, Path workDir, SchemaMode schemaMode,
                           NumericNanInf numericNanInf, String slotName, Set<String> acceptRisks, Set<QualifiedName> excludeTables,
                           int metricsPort, Duration statusInterval, SchemaMap schemaMap, Optional<String> migration) {
        this(source, target, jobs, logDir, workDir, schemaMode, numericNanInf, slotName, acceptRisks, TableFilter.excluding(excludeTables),
                metricsPort, statusInterval, Optional.empty(), schemaMap, migration);
    }

    public MigrationConfig {
        if (jobs < 1 || jobs > 64) {
            throw new FerryException("--jobs " + jobs + " is out of range.", "ferry runs 1 to 64 copy workers.",
                    "pass --jobs between 1 and 64 (the default is the number of cores).", ExitCode.BAD_INPUT, null);
        }
        if (metricsPort < 0 || metricsPort > 65535) {
            throw new FerryException("--metrics-port " + metricsPort + " is not a TCP port.", "ports run from 1 to 65535; 0 turns the endpoint off.",
                    "pass --metrics-port 9187, say, or leave it out.", ExitCode.BAD_INPUT, null);
        }
        if (!slotName.matches("[a-z0-9_]{1,50}")) {
            throw new FerryException("--slot '" + slotName + "' is not a valid replication slot name.",
                    "slot names may contain only lower-case letters, digits and underscores, at most 50 characters here.",
                    "pass --slot with a name like ferry_app.", ExitCode.BAD_INPUT, null);
        }
        if (source.host().equals(target.host()) && source.port() == target.port() && source.database().equals(target.database())) {
            throw new FerryException("--source and --target point at the same database " + source.masked() + ".",
                    "ferry would copy the database onto itself and destroy it.",
                    "point --target at the new server.", ExitCode.BAD_INPUT, null);
        }
        migration.ifPresent(MigrationConfig::checkMigrationName);
        if (!schemaMap.isEmpty() && schemaMode == SchemaMode.EXISTING) {
            throw new FerryException("--schema-map and --schema existing were both given.",
                    "with --schema existing ferry copies rows into tables you prepared, by their source names; it renames schemas only while copying the schema.",
                    "leave --schema-map out and create the tables under the source's schema names, or let ferry copy the schema (--schema copy).",
                    ExitCode.BAD_INPUT, null);
        }
        acceptRisks = Set.copyOf(acceptRisks);
        Objects.requireNonNull(tables, "tables");
        Objects.requireNonNull(pgDumpDir, "pgDumpDir");
        Objects.requireNonNull(schemaMap, "schemaMap");
        Objects.requireNonNull(migration, "migration");
    }

    /**
     * NOTE: documented in docs/operations.md. The schema on the target holding this migration's state: {@code ferry} for
     * the unnamed migration (as every ferry before --migration kept it), {@code ferry_NAME} for a named one, so two
     * migrations into one target database never share a row, a lock or a clean-up.
     */
    public String stateSchema() {
        return stateSchema(migration);
    }

    public static String stateSchema(Optional<String> migration) {
        return migration.map(name -> "ferry_" + checkMigrationName(name)).orElse("ferry");
    }

    private static String checkMigrationName(String name) {
        if (!name.matches("[a-z0-9_]{1,40}")) {
            throw new FerryException("--migration '" + name + "' is not a valid migration name.",
                    "it names ferry's state schema on the target (ferry_<name>): lower-case letters, digits and underscores, at most 40 characters.",
                    "pass --migration with a name like app1.", ExitCode.BAD_INPUT, null);
        }
        return name;
    }

    /** The slot name ferry uses when none is given: one per source database, so two migrations never collide. */
    public static String defaultSlotName(String sourceDatabase) {
        String cleaned = sourceDatabase.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        if (cleaned.length() > 40) cleaned = cleaned.substring(0, 40);
        return "ferry_" + cleaned;
    }

    /** Publication of tables whose rows can be identified (primary key or replica identity): all changes. */
    public String publication() { return publication(slotName); }

    /** Publication of tables with no tuple identifier: inserts and truncates only, so the source's own updates keep working. */
    public String insertOnlyPublication() { return insertOnlyPublication(slotName); }

    /** NOTE: documented in docs/operations.md; `ferry clean` finds an abandoned migration's publications by these names. */
    public static String publication(String slotName) { return slotName + "_pub"; }

    public static String insertOnlyPublication(String slotName) { return slotName + "_pub_inserts"; }

    /** Masked, quoted view for the DEBUG log. */
    public String describe() {
        return "source=" + source.masked() + " target=" + target.masked() + " jobs=" + jobs + " logDir='" + logDir
                + "' workDir='" + workDir + "' schema=" + schemaMode + " numericNanInf=" + numericNanInf
                + " slot='" + slotName + "' acceptRisks=" + acceptRisks + " tables=" + tables
                + " metricsPort=" + metricsPort + " pgDumpDir=" + pgDumpDir.map(d -> "'" + d + "'").orElse("(PATH)")
                + " schemaMap=" + schemaMap + " migration=" + migration.map(m -> "'" + m + "'").orElse("(unnamed)");
    }
}
