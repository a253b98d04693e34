package dev.ferry.agent.state;

import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.logging.Units;
import dev.ferry.agent.text.Json;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Optional;

/**
 * What `ferry status` shows: the migration's record, the agent holding its lock (if one runs), its copy against the
 * plan, and, when the source was reachable,
 * the lag and the WAL the source retains for the slot, with a warning past {@code maxRetainedWal}.
 */
public record MigrationStatus(MigrationState state, Optional<AgentIdentity> running, StateStore.CopyTotals copied, Optional<StateStore.CopyStatus> copy,
                              Optional<WalPosition.SlotRetention> source, long maxRetainedWal) {

    /** The WAL retained for the slot is over the limit the user set. */
    public boolean retainsTooMuchWal() {
        return source.flatMap(WalPosition.SlotRetention::retainedBytes).filter(bytes -> bytes > maxRetainedWal).isPresent();
    }

    /** NOTE: documented in docs/operations.md; people read it, scripts use --json. */
    public void printText(PrintWriter out) {
        out.println("slot          " + state.slotName());
        out.println("phase         " + state.phase().text());
        if (state.phase() != MigrationState.Phase.DONE) {
            out.println("agent         " + running.map(a -> "running, " + a.describe())
                    .orElse("not running" + state.agent().map(a -> " (last: " + a.describe() + ")").orElse("")));
            agentError().ifPresent(e -> out.println("agent error   " + e.replace("\n", "\n              ")));
        }
        out.println("applied LSN   " + state.appliedLsn() + " (stream started at " + state.consistentLsn() + ")");
        out.println("heartbeat     " + state.heartbeatAt().map(Object::toString).orElse("never"));
        copy.ifPresent(c -> out.printf("copy          %d of %d tables, %s of %s (%d%%)%s%n", c.tablesDone(), c.tables(), Units.bytes(c.doneBytes()),
                Units.bytes(c.plannedBytes()), c.plannedBytes() == 0 ? 100 : Math.round(100.0 * c.doneBytes() / c.plannedBytes()),
                c.tablesDone() < c.tables() ? c.etaSeconds().stream().mapToObj(s -> ", ETA " + Units.duration(s)).findFirst().orElse("") : ""));
        out.printf("copied        %d tables, %,d rows, %,d bytes%n", copied.tables(), copied.rows(), copied.bytes());
        source.ifPresent(s -> {
            out.println("source at     " + s.current() + ", lag " + Units.bytes(lagBytes(s)));
            out.println("retained WAL  " + s.retainedBytes().map(Units::bytes).orElse("none: the slot does not exist on the source"));
        });
        state.cutoverLsn().ifPresent(l -> out.println("cutover       requested, draining to " + l));
        state.cutoverError().ifPresent(e -> out.println("cutover error " + e));
        state.summary().ifPresent(out::println);
        if (retainsTooMuchWal()) {
            out.println("WARN  the source retains " + Units.bytes(source.get().retainedBytes().get()) + " of WAL for slot " + state.slotName()
                    + " (limit " + Units.bytes(maxRetainedWal) + ").");
            out.println("  why:  WAL is kept until ferry applies it; a stopped or slow agent lets it grow until the source's disk is full.");
            out.println("  fix:  make sure `ferry run` is running and catching up (stream.log); to give the migration up instead,"
                    + " `ferry clean` removes the slot.");
        }
    }

    /** NOTE: field names are a contract for scripts; documented in docs/operations.md. */
    public String json() {
        StringBuilder json = new StringBuilder("{");
        json.append("\"slot\":").append(Json.string(state.slotName()))
                .append(",\"phase\":\"").append(state.phase().text()).append('"')
                .append(",\"consistent_lsn\":\"").append(state.consistentLsn()).append('"')
                .append(",\"applied_lsn\":\"").append(state.appliedLsn()).append('"')
                .append(",\"heartbeat_at\":").append(state.heartbeatAt().map(t -> "\"" + t + "\"").orElse("null"))
                .append(",\"cutover_lsn\":").append(state.cutoverLsn().map(l -> "\"" + l + "\"").orElse("null"))
                .append(",\"copied_tables\":").append(copied.tables())
                .append(",\"copied_rows\":").append(copied.rows())
                .append(",\"copied_bytes\":").append(copied.bytes())
                .append(",\"agent_running\":").append(running.isPresent())
                .append(",\"agent\":").append(running.or(state::agent).map(a -> Json.string(a.describe())).orElse("null"))
                .append(",\"agent_error\":").append(agentError().map(Json::string).orElse("null"));
        copy.ifPresent(c -> json.append(",\"copy_tables\":").append(c.tables())
                .append(",\"copy_tables_done\":").append(c.tablesDone())
                .append(",\"copy_planned_bytes\":").append(c.plannedBytes())
                .append(",\"copy_done_bytes\":").append(c.doneBytes())
                .append(",\"copy_eta_seconds\":").append(c.etaSeconds().stream().mapToObj(s -> String.format(Locale.ROOT, "%.0f", s)).findFirst().orElse("null")));
        source.ifPresent(s -> json.append(",\"source_lsn\":\"").append(s.current()).append('"')
                .append(",\"lag_bytes\":").append(lagBytes(s))
                .append(",\"retained_wal_bytes\":").append(s.retainedBytes().map(String::valueOf).orElse("null"))
                .append(",\"retained_wal_warning\":").append(retainsTooMuchWal()));
        return json.append('}').toString();
    }

    private long lagBytes(WalPosition.SlotRetention s) {
        return Math.max(0, s.current().value() - state.appliedLsn().value());
    }

    /** The last agent's error, once no agent runs any more. */
    private Optional<String> agentError() {
        return running.isPresent() ? Optional.empty() : state.agentError();
    }
}
