package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.cutover.Cleanup;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import picocli.CommandLine.Command;
import dev.ferry.agent.state.StateStore;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/** `ferry clean`: removes an abandoned migration's slot and publications from the source and its state from the target. */
@Command(name = "clean", mixinStandardHelpOptions = true,
        description = {"Give up a migration: remove its replication slot (which keeps the source's WAL until its disk fills) and",
                "publications from the source, and ferry's state (schema ferry) from the target. Rows already copied stay.",
                "Says what it will remove and asks first (--yes for scripts); refuses while an agent runs the migration."},
        footer = {"", "Example:", "  ferry clean --source postgres://app@old-db:5432/app --target postgres://app@new-db:5432/app --yes"})
public final class CleanCommand implements Callable<Integer> {
    @Mixin
    ConnectionOptions connections = new ConnectionOptions();

    @Option(names = "--slot", paramLabel = "NAME",
            description = "The slot to remove when the target has no record of the migration (default: ferry_<database>).")
    String slot;

    @Mixin
    MigrationName migration = new MigrationName();

    @Mixin
    SchemaMapOption schemaMap = new SchemaMapOption();

    @Option(names = "--yes", description = "Do not ask: remove at once.")
    boolean yes;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        LogSetup.errorsOnly(System.err);
        PrintWriter out = spec.commandLine().getOut();
        Database source = new Database(connections.source(), "source");
        Database target = new Database(connections.target(), "target");
        String defaultSlot = slot != null ? slot : MigrationConfig.defaultSlotName(source.spec().database());
        boolean done = new Cleanup(source, target, defaultSlot, new StateStore(MigrationConfig.stateSchema(migration.name())), schemaMap.map()).run(out, () -> yes || confirmed(out));
        return done ? ExitCode.OK : ExitCode.FAILED;
    }

    /** Asks on the terminal; without one (a script, a container), nothing is removed unless --yes was given. */
    private static boolean confirmed(PrintWriter out) {
        out.print("Type yes to remove them: ");
        out.flush();
        try {
            String answer = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            return answer != null && answer.strip().equalsIgnoreCase("yes");
        } catch (IOException e) {
            return false;
        }
    }
}
