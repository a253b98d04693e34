package dev.ferry.agent.state;

import dev.ferry.replication.Lsn;

import java.time.Instant;
import java.util.Optional;

/**
 * One row of {@code ferry.migration}: where this migration stands.
 *
 * @param consistentLsn  the main slot's consistent point; the stream starts here on a fresh migration
 * @param appliedLsn     end LSN of the last source transaction committed on the target (written with its rows)
 * @param cutoverLsn     set by `ferry cutover`: drain up to here, then finish
 * @param agent          the last agent that took the migration's lock (running or not: {@link AgentLock#holder} says)
 * @param agentError     what that agent stopped on, if it stopped on an error it could record
 */
public record MigrationState(
        String slotName,
        Phase phase,
        Lsn consistentLsn,
        Lsn appliedLsn,
        Optional<Instant> heartbeatAt,
        Optional<Lsn> cutoverLsn,
        Optional<String> cutoverError,
        Optional<String> summary,
        Optional<AgentIdentity> agent,
        Optional<String> agentError) {

    /** Phases in order. NOTE: stored as lower-case text; `ferry status`, the benchmark and scripts read it. */
    public enum Phase {
        /** Slot created; pre-data schema being restored. */
        SCHEMA,
        /** Tables being copied inside a snapshot. */
        COPY,
        /** Indexes, constraints and triggers being built. */
        POST_DATA,
        /** Following the slot, applying each source transaction. */
        STREAM,
        /** Finished: cutover done, slot and publications dropped. */
        DONE;

        public String text() { return name().toLowerCase().replace('_', '-'); }

        public static Phase parse(String text) { return valueOf(text.toUpperCase().replace('-', '_')); }
    }
}
