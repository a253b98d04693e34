package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.preflight.PreflightReport;
import dev.ferry.agent.state.AgentIdentity;
import dev.ferry.agent.state.AgentLock;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.sql.Connection;
import java.util.Optional;
import java.util.concurrent.Callable;

/** `ferry status`: where the migration stands, read from ferry's state on the target. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the migration's phase, whether an agent is running (and its last error), applied LSN, copy progress.",
        footer = {"", "Example:", "  ferry status --target postgres://app@new-db:5432/app --json"})
public final class StatusCommand implements Callable<Integer> {
    @Option(names = "--target", paramLabel = "URI", defaultValue = "${env:FERRY_TARGET}", description = "Target database (default: $FERRY_TARGET).")
    String target;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        LogSetup.consoleOnly(System.err, false);
        PrintWriter out = spec.commandLine().getOut();
        Database database = new Database(dev.ferry.agent.config.ConnectionSpec.parse("target", target), "target");
        StateStore state = new StateStore();
        try (Connection dst = database.open()) {
            MigrationState current = state.load(dst).orElseThrow(() -> new FerryException(
                    "no migration on the target " + database.spec().masked() + ".", "the target has no ferry state (schema \"ferry\").",
                    "start one with `ferry run`."));
            StateStore.CopyTotals copy = state.copyTotals(dst);
            // Running means holding the agent lock right now, not having written a heartbeat lately.
            Optional<AgentIdentity> running = AgentLock.holder(dst);
            Optional<AgentIdentity> agent = running.or(current::agent);
            Optional<String> error = running.isPresent() ? Optional.empty() : current.agentError();
            if (json) {
                out.printf("{\"slot\":\"%s\",\"phase\":\"%s\",\"consistent_lsn\":\"%s\",\"applied_lsn\":\"%s\",\"heartbeat_at\":%s,"
                                + "\"cutover_lsn\":%s,\"copied_tables\":%d,\"copied_rows\":%d,\"copied_bytes\":%d,"
                                + "\"agent_running\":%s,\"agent\":%s,\"agent_error\":%s}%n",
                        current.slotName(), current.phase().text(), current.consistentLsn(), current.appliedLsn(),
                        current.heartbeatAt().map(t -> "\"" + t + "\"").orElse("null"),
                        current.cutoverLsn().map(l -> "\"" + l + "\"").orElse("null"), copy.tables(), copy.rows(), copy.bytes(),
                        running.isPresent(), agent.map(a -> PreflightReport.json(a.describe())).orElse("null"),
                        error.map(PreflightReport::json).orElse("null"));
            } else {
                out.println("slot          " + current.slotName());
                out.println("phase         " + current.phase().text());
                if (current.phase() != MigrationState.Phase.DONE) {
                    out.println("agent         " + (running.isPresent() ? "running, " + running.get().describe()
                            : "not running" + current.agent().map(a -> " (last: " + a.describe() + ")").orElse("")));
                    error.ifPresent(e -> out.println("agent error   " + e.replace("\n", "\n              ")));
                }
                out.println("applied LSN   " + current.appliedLsn() + " (stream started at " + current.consistentLsn() + ")");
                out.println("heartbeat     " + current.heartbeatAt().map(Object::toString).orElse("never"));
                out.printf("copied        %d tables, %,d rows, %,d bytes%n", copy.tables(), copy.rows(), copy.bytes());
                current.cutoverLsn().ifPresent(l -> out.println("cutover       requested, draining to " + l));
                current.cutoverError().ifPresent(e -> out.println("cutover error " + e));
                current.summary().ifPresent(out::println);
            }
        }
        return ExitCode.OK;
    }
}
