package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.cutover.CutoverRequest;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import picocli.CommandLine.Command;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.state.StateStore;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;

/** `ferry cutover`: asks the running agent to drain, sync sequences, verify and finish. */
@Command(name = "cutover", mixinStandardHelpOptions = true,
        description = {"Finish the migration: run it after stopping the application's writes to the source.",
                "The running `ferry run` drains to the source's current WAL position, sets sequences, compares row counts,",
                "drops its slot and publications, and exits 0; so does this command. Works from any host that reaches both servers."},
        footer = {"", "Example:", "  ferry cutover --source postgres://app@old-db:5432/app --target postgres://app@new-db:5432/app --timeout 15m"})
public final class CutoverCommand implements java.util.concurrent.Callable<Integer> {
    @Mixin
    ConnectionOptions connections = new ConnectionOptions();

    @Mixin
    MigrationName migration = new MigrationName();

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "10m",
            description = "How long to wait for the agent to finish, e.g. 90s, 10m, 1h (default: 10m).")
    String timeout;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LogSetup.consoleOnly(System.err, false);
        PrintWriter out = spec.commandLine().getOut();
        String summary = new CutoverRequest(new Database(connections.source(), "source"), new Database(connections.target(), "target"),
                new StateStore(MigrationConfig.stateSchema(migration.name())))
                .run(Durations.parse("--timeout", timeout), out);
        out.println(summary);
        return ExitCode.OK;
    }
}
