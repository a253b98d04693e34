package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.verify.KeyRanges;
import dev.ferry.agent.verify.Verification;
import dev.ferry.agent.verify.VerifyReport;
import picocli.CommandLine.Command;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.StateStore;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** `ferry verify`: compares source and target table by table; exit 0 only when identical. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Compare every table of the source with the target: row count and an order-independent checksum,",
                "big tables in parallel key ranges, each read in a short statement (no long transaction on the source).",
                "Runs at any time: while the migration streams, ranges that differ are read again once the target caught up;",
                "after the cutover, sequences are compared too. Shows the rows that differ. Exit 0 when identical, 6 when not."},
        footer = {"", "Example:", "  ferry verify --source postgres://app@old-db:5432/app --target postgres://app@new-db:5432/app --jobs 4"})
public final class VerifyCommand implements Callable<Integer> {
    @Mixin
    ConnectionOptions connections = new ConnectionOptions();

    @Option(names = "--jobs", paramLabel = "N", description = "Key ranges compared at once (default: number of cores).")
    Integer jobs;

    @Mixin
    FilterOptions filter = new FilterOptions();

    @Option(names = "--attempts", paramLabel = "N", defaultValue = "3",
            description = "While the migration streams: how often a differing key range is read before it is reported (default: 3).")
    int attempts;

    @Option(names = "--catch-up", paramLabel = "DURATION", defaultValue = "30s",
            description = "While the migration streams: how long to wait each time for the target to apply what the source had (default: 30s).")
    String catchUp;

    @Mixin
    MigrationName migration = new MigrationName();

    @Mixin
    SchemaMapOption schemaMap = new SchemaMapOption();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        LogSetup.errorsOnly(System.err);
        int workers = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
        if (workers < 1 || attempts < 1) {
            throw new FerryException("--jobs " + workers + " --attempts " + attempts + " is not a valid choice.", "both must be at least 1.",
                    "pass positive numbers, e.g. --jobs 4 --attempts 3.", ExitCode.BAD_INPUT, null);
        }
        Verification.Options options = new Verification.Options(workers, filter.toFilter(), attempts, Durations.parse("--catch-up", catchUp),
                KeyRanges.RANGE_BYTES);
        VerifyReport report = new Verification(new Database(connections.source(), "source"), new Database(connections.target(), "target"), options,
                new StateStore(MigrationConfig.stateSchema(migration.name())), schemaMap.map())
                .run(spec.commandLine().getOut());
        return report.identical() ? ExitCode.OK : ExitCode.DIFFERENT;
    }
}
