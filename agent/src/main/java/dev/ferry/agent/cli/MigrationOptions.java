package dev.ferry.agent.cli;

import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;

/** The options that describe one migration, shared by `run` and `preflight`; turns them into a MigrationConfig. */
public final class MigrationOptions {
    @Mixin
    ConnectionOptions connections = new ConnectionOptions();

    @Option(names = "--jobs", paramLabel = "N", description = "Parallel copy workers and index builds (default: number of cores).")
    Integer jobs;

    @Option(names = "--log-dir", paramLabel = "DIR", defaultValue = "${env:FERRY_LOG_DIR:-logs}",
            description = "Where the per-stage logs go (default: ./logs, or $FERRY_LOG_DIR).")
    Path logDir;

    @Option(names = "--work-dir", paramLabel = "DIR", defaultValue = "${env:FERRY_WORK_DIR}",
            description = "Scratch space for the schema dump and big in-progress transactions (default: <log-dir>/../ferry-work, or $FERRY_WORK_DIR).")
    Path workDir;

    @Option(names = "--schema", paramLabel = "copy|existing", defaultValue = "copy",
            description = "copy: copy the schema with pg_dump (default); existing: the target already has the schema.")
    String schema;

    @Option(names = "--numeric-nan-inf", paramLabel = "keep|null", defaultValue = "keep",
            description = "NaN/Infinity in numeric columns: keep them (exact on PostgreSQL 14+ targets) or write NULL and count them.")
    String numericNanInf;

    @Option(names = "--slot", paramLabel = "NAME", description = "Replication slot on the source (default: ferry_<database>).")
    String slot;

    @Option(names = "--accept-risk", paramLabel = "CHECK", description = "Start even though this preflight check FAILs (repeatable).")
    List<String> acceptRisks = new ArrayList<>();

    @Mixin
    FilterOptions filter = new FilterOptions();

    @Option(names = "--pg-dump-dir", paramLabel = "DIR",
            description = "Directory of the pg_dump and pg_restore to copy the schema with, at least the source's version (default: PATH, then /usr/lib/postgresql/NN/bin).")
    Path pgDumpDir;

    @Mixin
    SchemaMapOption schemaMap = new SchemaMapOption();

    @Mixin
    MigrationName migration = new MigrationName();

    @Option(names = "--metrics-port", paramLabel = "PORT", defaultValue = "${env:FERRY_METRICS_PORT:-0}",
            description = "Serve /status and /metrics (Prometheus) on this port; 0: off (default: 0, or $FERRY_METRICS_PORT).")
    int metricsPort;

    MigrationConfig toConfig() {
        ConnectionSpec source = connections.source();
        ConnectionSpec target = connections.target();
        Path logs = logDir.toAbsolutePath().normalize();
        Path work = workDir != null ? workDir.toAbsolutePath().normalize() : logs.resolveSibling("ferry-work");
        return new MigrationConfig(source, target,
                jobs != null ? jobs : Runtime.getRuntime().availableProcessors(),
                logs, work,
                parseEnum(MigrationConfig.SchemaMode.class, "--schema", schema),
                parseEnum(MigrationConfig.NumericNanInf.class, "--numeric-nan-inf", numericNanInf),
                slot != null ? slot : MigrationConfig.defaultSlotName(source.database()),
                new LinkedHashSet<>(acceptRisks), filter.toFilter(), metricsPort, Duration.ofSeconds(10),
                Optional.ofNullable(pgDumpDir).map(dir -> dir.toAbsolutePath().normalize()),
                schemaMap.map(), migration.name());
    }

    private static <E extends Enum<E>> E parseEnum(Class<E> type, String option, String value) {
        for (E constant : type.getEnumConstants()) {
            if (constant.name().equalsIgnoreCase(value)) return constant;
        }
        List<String> allowed = new ArrayList<>();
        for (E constant : type.getEnumConstants()) allowed.add(constant.name().toLowerCase());
        throw new FerryException(option + " '" + value + "' is not one of " + allowed + ".", option + " takes one of a fixed set of words.",
                "pass " + option + " " + String.join("|", allowed) + ".", ExitCode.BAD_INPUT, null);
    }
}
