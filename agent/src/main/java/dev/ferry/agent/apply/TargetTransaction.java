package dev.ferry.agent.apply;

import dev.ferry.replication.Lsn;

import java.time.Duration;
import java.util.Optional;

/**
 * The bookkeeping of the stream's target transactions: what the open one holds (row changes, completed source
 * transactions and the end LSN of the last), when it is due to commit, and the LSN durably applied so far. Many source
 * transactions share one target transaction, which saves the target a commit (and a flush of its WAL) per source
 * transaction. Owned by the apply thread.
 */
final class TargetTransaction {
    /** Commit at a source commit once the target transaction holds this many changes or is this old. */
    static final long COMMIT_CHANGES = 20_000;
    static final long COMMIT_NANOS = Duration.ofMillis(500).toNanos();

    private Lsn applied;
    private Optional<Lsn> completedEnd = Optional.empty();
    private long changes;
    private int transactions;
    private long openedNanos;
    private long changesApplied;
    private long transactionsApplied;
    private long commits;

    /** @param applied what the target holds already: the applied LSN recorded in ferry's state */
    TargetTransaction(Lsn applied) {
        this.applied = applied;
    }

    void changed() {
        changes++;
        markOpened();
    }

    void sourceTransactionEnded(Lsn endLsn) {
        completedEnd = Optional.of(endLsn);
        transactions++;
        markOpened();
    }

    /** The end LSN to record with the next commit: that of the last source transaction completed. */
    Optional<Lsn> completedEnd() {
        return completedEnd;
    }

    boolean hasWork() {
        return transactions > 0 || changes > 0;
    }

    /** Whether to commit now, at a source commit boundary. */
    boolean due() {
        return changes >= COMMIT_CHANGES || openNanos() >= COMMIT_NANOS;
    }

    long changes() {
        return changes;
    }

    private long openNanos() {
        return hasWork() ? System.nanoTime() - openedNanos : 0;
    }

    /** The target committed what was open: its source transactions are applied, up to {@link #completedEnd()}. */
    void committed() {
        changesApplied += changes;
        transactionsApplied += transactions;
        commits++;
        changes = 0;
        transactions = 0;
        if (completedEnd.isPresent()) applied = Lsn.max(applied, completedEnd.get());
    }

    /** A source transaction with {@code changes} changes was committed on another connection, with nothing open here. */
    void committedElsewhere(Lsn endLsn, long changes) {
        changesApplied += changes;
        transactionsApplied++;
        applied = Lsn.max(applied, endLsn);
    }

    /** The target rolled back what was open: nothing of it is applied. */
    void rolledBack() {
        changes = 0;
        transactions = 0;
        completedEnd = Optional.empty();
    }

    /**
     * With nothing open, everything the server sent before {@code received} is applied. Returns whether that moved
     * the applied LSN.
     */
    boolean caughtUpTo(Lsn received) {
        if (hasWork() || !received.isAfter(applied)) return false;
        applied = received;
        return true;
    }

    Lsn applied() { return applied; }

    long changesApplied() { return changesApplied; }

    long transactionsApplied() { return transactionsApplied; }

    long commits() { return commits; }

    private void markOpened() {
        if (changes + transactions == 1) openedNanos = System.nanoTime();
    }
}
