package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.state.AgentLock;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.MigrationStatus;
import dev.ferry.agent.state.StateStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** `ferry status`: where the migration stands, read from ferry's state on the target (and the source's slot, if given). */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Show the migration's phase, whether an agent is running (and its last error), applied LSN, copy progress.",
                "With --source, also the lag and the WAL the source retains for ferry's slot, with a warning past --max-retained-wal."},
        footer = {"", "Example:", "  ferry status --target postgres://app@new-db:5432/app --source postgres://app@old-db:5432/app --json"})
public final class StatusCommand implements Callable<Integer> {
    @Option(names = "--target", paramLabel = "URI", defaultValue = "${env:FERRY_TARGET}", description = "Target database (default: $FERRY_TARGET).")
    String target;

    @Option(names = "--source", paramLabel = "URI", defaultValue = "${env:FERRY_SOURCE}",
            description = "Source database, for the lag and the WAL retained for the slot (default: $FERRY_SOURCE; optional).")
    String source;

    @Option(names = "--max-retained-wal", paramLabel = "SIZE", defaultValue = "10GB",
            description = "Warn when the source retains more WAL than this for ferry's slot (default: 10GB).")
    String maxRetainedWal;

    @picocli.CommandLine.Mixin
    MigrationName migration = new MigrationName();

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LogSetup.consoleOnly(System.err, false);
        PrintWriter out = spec.commandLine().getOut();
        long walLimit = Sizes.parse("--max-retained-wal", maxRetainedWal, "500MB or 10GB");
        Database database = new Database(ConnectionSpec.parse("target", target), "target");
        StateStore state = new StateStore(MigrationConfig.stateSchema(migration.name()));
        MigrationStatus status;
        try (Connection dst = database.open()) {
            List<String> named = migration.name().isEmpty() ? StateStore.namedMigrations(dst) : List.of();
            MigrationState current = state.load(dst).orElseThrow(() -> new FerryException(
                    "no migration on the target " + database.spec().masked() + ".", "the target has no ferry state (schema \"" + state.schema() + "\")"
                            + (named.isEmpty() ? "." : "; it holds the named migrations " + String.join(", ", named) + "."),
                    named.isEmpty() ? "start one with `ferry run`." : "name one: --migration " + named.get(0) + "."));
            // Running means holding the agent lock right now, not having written a heartbeat lately.
            status = new MigrationStatus(current, AgentLock.holder(dst, state.schema()), state.copyTotals(dst), state.copyStatus(dst), slot(current.slotName()), walLimit);
        }
        if (json) {
            out.println(status.json());
        } else {
            status.printText(out);
        }
        return ExitCode.OK;
    }

    /** The source's side, when a source was given; status still works without it. */
    private Optional<WalPosition.SlotRetention> slot(String slotName) throws SQLException {
        if (source == null || source.isBlank()) return Optional.empty();
        try (Connection src = new Database(ConnectionSpec.parse("source", source), "source").open()) {
            return Optional.of(WalPosition.slot(src, slotName));
        }
    }

}
