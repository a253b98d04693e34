package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.cutover.SequenceSync;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Callable;

/** `ferry sync-sequences`: moves target sequences forward to the source's values, at any time. */
@Command(name = "sync-sequences", mixinStandardHelpOptions = true,
        description = {"Move every target sequence (identity columns' included) forward to the source's value; one the target",
                "already has as far or further is left alone, so it is safe at any time, during the migration or after it.",
                "The cutover sets them too; this is for testing the target early, or a second look after the cutover."},
        footer = {"", "Example:", "  ferry sync-sequences --source postgres://app@old-db:5432/app --target postgres://app@new-db:5432/app"})
public final class SyncSequencesCommand implements Callable<Integer> {
    @Mixin
    ConnectionOptions connections = new ConnectionOptions();

    @Mixin
    FilterOptions filter = new FilterOptions();

    @Mixin
    SchemaMapOption schemaMap = new SchemaMapOption();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        LogSetup.consoleOnly(System.err, false);
        PrintWriter out = spec.commandLine().getOut();
        Database source = new Database(connections.source(), "source");
        Database target = new Database(connections.target(), "target");
        try (Connection src = source.open(); Connection dst = target.open()) {
            SequenceSync.Result result = new SequenceSync(filter.toFilter(), schemaMap.map()).syncForward(src, dst);
            result.missing().forEach(sequence -> out.println("sequence " + sequence + " exists on the source but not on the target:"
                    + " create it there and run sync-sequences again"));
            out.printf("sync-sequences: %d moved forward, %d already as far on the target, %d missing on the target%n",
                    result.set(), result.alreadyAhead(), result.missing().size());
            return result.missing().isEmpty() ? ExitCode.OK : ExitCode.FAILED;
        } catch (SQLException e) {
            throw new FerryException("sync-sequences could not finish:", e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                    "fix what the message names, then run it again: it only ever moves sequences forward.", e);
        }
    }
}
