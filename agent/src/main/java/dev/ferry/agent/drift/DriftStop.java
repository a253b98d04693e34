package dev.ferry.agent.drift;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.Applier;
import dev.ferry.replication.Lsn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;

/**
 * Where a changed table ({@link ColumnDrift}) stops the stream: at its RELATION message, with the source transactions
 * before it on the target when it stops, since replayed after the fix they would meet the table's new definition. They
 * are when none awaited a target commit, or are committed now when this transaction has queued nothing yet (the usual
 * case: the DDL's own transaction carries no rows). Otherwise the stream runs again from the last applied transaction,
 * committing each one before this on its own ({@link Replay}). Owned by the stream thread; lives across the stream's
 * attempts.
 */
public final class DriftStop {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");

    /** Set after a Replay: source transactions committed before this LSN are committed on the target one by one. */
    private Optional<Lsn> commitEachBefore = Optional.empty();
    /** At the current transaction's BEGIN: whether earlier ones awaited a target commit, and how many changes were queued. */
    private boolean earlierUncommitted;
    private long changesAtBegin;

    /** At a source transaction's BEGIN. */
    public void begin(Applier applier) {
        earlierUncommitted = applier.hasUncommittedWork();
        changesAtBegin = applier.uncommittedChanges();
    }

    /** What to throw for {@code stop}, met at a RELATION message of the source transaction committed at {@code transaction}. */
    public RuntimeException at(Lsn transaction, FerryException stop, Applier applier) {
        if (earlierUncommitted && applier.uncommittedChanges() == changesAtBegin) {
            applier.commitPending();
            return stop;
        }
        applier.rollback();
        return earlierUncommitted ? new Replay(transaction, applier.applied(), stop) : stop;
    }

    /** Whether the source transaction committed at {@code transaction}, just ended, is committed on the target on its own. */
    public boolean commitsAlone(Lsn transaction) {
        return commitEachBefore.filter(transaction::isBefore).isPresent();
    }

    /** The stream runs again from the last applied transaction after {@code replay}. */
    public void replaying(Replay replay) {
        log.info("a changed table stops the stream at the transaction committed at {}: applying the transactions before it first, from {}",
                replay.transaction, replay.applied);
        commitEachBefore = Optional.of(replay.transaction);
    }

    /** A RELATION message stopped the stream while earlier source transactions shared its uncommitted target transaction. */
    public static final class Replay extends RuntimeException {
        private final Lsn transaction;
        private final Lsn applied;

        Replay(Lsn transaction, Lsn applied, FerryException stop) {
            super(stop);
            this.transaction = transaction;
            this.applied = applied;
        }
    }
}
