package dev.ferry.agent.state;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.Database;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;

/**
 * What a starting agent does with the migration state it finds on the target: takes over its own migration's (and
 * records itself there), refuses another migration's, and leaves the reason it stops for `ferry cutover` and
 * `ferry status` to show once no agent runs.
 */
public final class AgentRecords {
    private static final Logger log = LoggerFactory.getLogger("ferry");

    private final StateStore state;

    public AgentRecords(StateStore state) {
        this.state = state;
    }

    /**
     * This migration's state if the target holds it; an unfinished one then records {@code agent} as its agent. A
     * state of another migration (another slot) in the same schema is refused.
     */
    public Optional<MigrationState> claim(DataSource target, String slotName, AgentIdentity agent) throws SQLException {
        Optional<MigrationState> existing;
        try (Connection dst = target.getConnection()) {
            existing = state.load(dst);
            if (existing.isPresent() && existing.get().slotName().equals(slotName) && existing.get().phase() != MigrationState.Phase.DONE) {
                state.install(dst); // columns a newer ferry added to an older agent's state
                state.recordAgent(dst, agent);
            }
        }
        if (existing.isPresent() && !existing.get().slotName().equals(slotName)) {
            throw new FerryException("the target already holds another migration (slot " + existing.get().slotName() + ").",
                    "ferry keeps each migration's state in a schema of its own on the target (here \"" + state.schema() + "\"); this run uses slot " + slotName + ".",
                    "pass --slot " + existing.get().slotName() + " to resume that migration; or, to run a second migration into this database, give each one a name with --migration.",
                    ExitCode.BAD_INPUT, null);
        }
        return existing;
    }

    /** Leaves the reason this agent stops in the state. Best effort: the failure may be the target itself. */
    public void recordStop(Database target, Exception failure) {
        String text = failure instanceof FerryException f ? f.describe() : failure.toString();
        try (Connection dst = target.open()) {
            if (state.installed(dst)) state.recordAgentError(dst, text);
        } catch (SQLException | RuntimeException e) {
            failure.addSuppressed(e);
            log.debug("could not record the agent's error in the state on the target", e);
        }
    }
}
