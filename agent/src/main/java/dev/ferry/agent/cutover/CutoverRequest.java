package dev.ferry.agent.cutover;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.state.AgentIdentity;
import dev.ferry.agent.state.AgentLock;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.MigrationState.Phase;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * The `ferry cutover` side: takes the source's current WAL position, asks the running agent (through ferry's state
 * on the target, so it works from any host) to drain to it and finish, and waits for the agent's summary. Whether an
 * agent runs is read from its {@link AgentLock} before the request and at every poll, so a dead agent is reported at
 * once, and one that has just been restarted (holding the lock, not yet streaming) is waited for.
 */
public final class CutoverRequest {
    private static final Duration POLL = Duration.ofMillis(250);

    private final Database source;
    private final Database target;
    private final StateStore state;

    public CutoverRequest(Database source, Database target) {
        this(source, target, new StateStore());
    }

    /** @param state the state of the migration to cut over, when several share the target database */
    public CutoverRequest(Database source, Database target, StateStore state) {
        this.source = source;
        this.target = target;
        this.state = state;
    }

    /** Requests the cutover and waits up to {@code timeout}; returns the agent's summary. */
    public String run(Duration timeout, PrintWriter out) throws SQLException {
        try (Connection dst = target.open()) {
            MigrationState current = state.load(dst).orElseThrow(() -> new FerryException(
                    "no migration is running on the target " + target.spec().masked() + ".",
                    "the target has no ferry state (schema \"" + state.schema() + "\").",
                    "start one with `ferry run --source ... --target ...`; cutover comes once it is streaming."));
            if (current.phase() == Phase.DONE) {
                out.println("the migration had already finished.");
                return current.summary().orElse("");
            }
            Optional<AgentIdentity> agent = AgentLock.holder(dst, state.schema());
            if (agent.isEmpty()) {
                // It may have finished between the two reads.
                current = state.load(dst).orElseThrow();
                if (current.phase() == Phase.DONE) return current.summary().orElse("");
                throw noAgent(dst, current, "");
            }
            if (current.phase() != Phase.STREAM) {
                throw new FerryException("the migration is still in phase " + current.phase().text() + "; cutover is possible once it streams.",
                        "the copy is not finished, so the target does not hold all the data yet (the agent, " + agent.get().describe() + ", is working on it).",
                        "wait until `ferry status` shows phase stream, then run `ferry cutover` again.");
            }
            Lsn cutoverLsn = currentSourceLsn();
            state.requestCutover(dst, cutoverLsn);
            out.println("cutover requested: the agent (" + agent.get().describe() + ") drains to the source's WAL position " + cutoverLsn + " ...");
            out.flush();
            return await(dst, cutoverLsn, timeout, out);
        }
    }

    /**
     * No agent holds the lock: nothing would ever drain. Says which agent ran last, when it last wrote its heartbeat
     * and the error it stopped on, if it could record one.
     */
    private FerryException noAgent(Connection dst, MigrationState current, String during) throws SQLException {
        Instant now = databaseNow(dst);
        String last = current.agent().map(a -> "; the last one was " + a.describe()).orElse("")
                + "; last heartbeat " + current.heartbeatAt().map(at -> Duration.between(at, now).toSeconds() + " s ago").orElse("never");
        String why = current.agentError()
                .map(error -> "it stopped on this error:\n" + error)
                .orElse("it left no error in ferry's state: it was killed (kill -9, out of memory), or its host or its connection to the target went away.");
        return new FerryException("no ferry agent is running for this migration" + during + last + ".",
                why + "\nThe agent applies the last changes and finishes the cutover; without it nothing would drain.",
                "fix the cause, start `ferry run` again with the same arguments (it resumes), then run `ferry cutover` again.");
    }

    private static Instant databaseNow(Connection dst) throws SQLException {
        try (Statement s = dst.createStatement(); ResultSet rs = s.executeQuery("SELECT now()")) {
            rs.next();
            return rs.getTimestamp(1).toInstant();
        }
    }

    /** Where the source's WAL stands now, as a position the drain can reach ({@link WalPosition#current}). */
    private Lsn currentSourceLsn() throws SQLException {
        try (Connection src = source.open()) {
            return WalPosition.current(src);
        }
    }

    private String await(Connection dst, Lsn cutoverLsn, Duration timeout, PrintWriter out) throws SQLException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextReport = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (true) {
            MigrationState current = state.load(dst).orElseThrow();
            if (current.phase() == Phase.DONE) return current.summary().orElse("");
            Optional<String> error = current.cutoverError();
            if (error.isPresent()) {
                throw new FerryException("the agent could not finish the cutover:", error.get(),
                        "fix the cause, then run `ferry cutover` again; the migration keeps streaming meanwhile.");
            }
            if (AgentLock.holder(dst, state.schema()).isEmpty()) {
                current = state.load(dst).orElseThrow();
                if (current.phase() == Phase.DONE) return current.summary().orElse("");
                // Nobody would act on the request any more; a restarted agent must not finish a cutover nobody waits for.
                state.withdrawCutover(dst, cutoverLsn);
                throw noAgent(dst, current, " any more (it stopped while the cutover waited, applied up to "
                        + current.appliedLsn() + " of " + cutoverLsn + ")");
            }
            if (System.nanoTime() > deadline) {
                throw new FerryException("the cutover did not finish within " + timeout.toSeconds() + " s: applied up to "
                        + current.appliedLsn() + " of " + cutoverLsn + ".",
                        "the agent is still draining (or stopped); the request stays in place and the agent finishes when it gets there.",
                        "check stream.log and `ferry status`; run `ferry cutover` again to keep waiting (a new request takes a new WAL position).",
                        ExitCode.FAILED, null);
            }
            if (System.nanoTime() > nextReport) {
                out.println("  applied up to " + current.appliedLsn() + " of " + cutoverLsn + " ...");
                out.flush();
                nextReport = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            }
            try {
                Thread.sleep(POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw FerryException.interrupted("interrupted while waiting for the cutover.", "the request stays in place; run `ferry status` to follow it.", e);
            }
        }
    }
}
