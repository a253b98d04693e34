package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.run.Migration;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.logging.LogSetup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.util.concurrent.Callable;

/** `ferry run`: the whole migration, resuming wherever an earlier run stopped. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Migrate the source database to the target and keep it in sync until `ferry cutover`.",
                "Safe to run again after any crash with the same arguments: it resumes."},
        footer = {"", "Example:",
                "  ferry run --source postgres://app:secret@old-db:5432/app --target postgres://app:secret@new-db:5432/app \\",
                "            --jobs 4 --log-dir /var/log/ferry",
                "Merging a second source database into the same target, as schema shop_b:",
                "  ferry run --source postgres://app@old-b:5432/shop --target postgres://app@new-db:5432/app --migration shop_b --schema-map public=shop_b"})
public final class RunCommand implements Callable<Integer> {
    @Mixin
    MigrationOptions options = new MigrationOptions();

    @Mixin
    LogOptions logs = new LogOptions();

    @Option(names = {"-v", "--verbose"}, description = "Show DEBUG lines on the console too.")
    boolean verbose;

    @Option(names = "--restart-copy", description = {"Start the migration over when its replication slot was lost (dropped, or invalidated by",
            "max_slot_wal_keep_size): empties only the tables ferry copied into, removes its state, slot and publications, then copies again."})
    boolean restartCopy;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        MigrationConfig config = options.toConfig();
        // A terminal gets a live progress line; a container's log or a pipe gets a plain line every few seconds.
        LogSetup.toDirectory(logs.toLogFiles(config.logDir()), System.err, verbose, System.console() != null);
        String summary = new Migration(config).run(restartCopy);
        spec.commandLine().getOut().println(summary);
        spec.commandLine().getOut().println("logs: " + config.logDir());
        return ExitCode.OK;
    }
}
