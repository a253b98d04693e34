package dev.ferry.agent.stream;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.Applier;
import dev.ferry.agent.db.ConnectionFailures;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.LogicalMessage;
import dev.ferry.replication.pgoutput.Origin;
import dev.ferry.replication.pgoutput.PgOutputMessage;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.StreamCommit;
import dev.ferry.replication.pgoutput.Truncate;
import dev.ferry.replication.pgoutput.Type;
import dev.ferry.replication.pgoutput.Update;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies one big source transaction while PostgreSQL streams it (STREAM START/STOP blocks), on a target connection of
 * its own, so at its STREAM COMMIT only a commit is left instead of a replay of the whole spill file. Its changes go
 * into one open target transaction; a subtransaction gets a savepoint at its first change and a STREAM ABORT of it is a
 * ROLLBACK TO that savepoint, which also drops the savepoints after it (the cut rule of {@link SpilledTransactions}).
 * At the commit the main connection commits the source transactions before it first, then this one commits with its
 * end LSN in ferry's state, so a crash leaves the transaction and its LSN on the target or neither: exactly-once.
 * <p>
 * One streamed transaction at a time; the others, and this one wherever it cannot be applied exactly before its commit
 * is known (a table copied again, with a sync LSN still ahead; a RELATION message the main applier has not seen the
 * same; TRUNCATE; TimescaleDB's compression markers; any failure), are replayed from the spill file, which is always
 * written. Neither connection ever waits for the other's locks: the main one commits before each block applied here,
 * and anything the open transaction has locked on the source keeps conflicting source changes from committing before
 * it, so they are never streamed ahead of its commit. Owned by the stream thread.
 */
final class EagerTransaction {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");

    private final Applier eager;
    private final Applier main;
    private final TimescaleChanges timescale;
    private final Map<QualifiedName, Lsn> syncLsns;
    /** The RELATION messages the main applier has handled, by relation id: the definitions the target is known to match. */
    private final Map<Integer, Relation> mainRelations;

    private boolean open;
    private long xid;
    private boolean applying;
    private boolean abandoned;
    /** Subtransactions with a savepoint, in the order of their first change. */
    private final List<Long> savepoints = new ArrayList<>();
    /** The changes applied before each savepoint: what is left of them after a ROLLBACK TO it. */
    private final Map<Long, Long> changesAt = new HashMap<>();
    private final Set<Integer> mapped = new HashSet<>();
    private long changes;

    /**
     * @param eager an applier on its own target connection (lock_timeout set), recording to ferry's state like the main one
     */
    EagerTransaction(Applier eager, Applier main, TimescaleChanges timescale, Map<QualifiedName, Lsn> syncLsns, Map<Integer, Relation> mainRelations) {
        this.eager = eager;
        this.main = main;
        this.timescale = timescale;
        this.syncLsns = syncLsns;
        this.mainRelations = mainRelations;
    }

    /** At a STREAM START: takes this transaction if none is open here, and readies the target for the block's changes. */
    void start(long topXid) {
        if (!open) {
            open = true;
            xid = topXid;
            abandoned = false;
            changes = 0;
            savepoints.clear();
            changesAt.clear();
            mapped.clear();
        }
        applying = xid == topXid && !abandoned;
        // The main connection must hold no row lock this block's changes could wait for: the thread would hang.
        if (applying) main.commitPending();
    }

    /** One message of the current stream block, of (sub)transaction {@code subXid}. */
    void change(long subXid, PgOutputMessage message) {
        if (!applying) return;
        try {
            if (message instanceof Relation relation) {
                relation(relation);
            } else if (message instanceof Insert insert) {
                if (row(subXid, insert.relationId())) eager.insert(insert);
            } else if (message instanceof Update update) {
                if (row(subXid, update.relationId())) eager.update(update);
            } else if (message instanceof Delete delete) {
                if (row(subXid, delete.relationId())) eager.delete(delete);
            } else if (message instanceof Truncate) {
                abandon("it truncates a table");
            } else if (message instanceof LogicalMessage logical) {
                // TimescaleDB's markers make what follows them internal: routing that depends on their order is left to the replay.
                if (logical.prefix().startsWith("::timescaledb")) abandon("it holds TimescaleDB's (de)compression markers");
            } else if (message instanceof Type || message instanceof Origin) {
                // nothing to apply
            } else {
                throw new IllegalStateException("unhandled " + message);
            }
        } catch (FerryException failure) {
            if (ConnectionFailures.isTransient(failure)) throw failure;
            abandon(failure.getMessage());
        }
    }

    /**
     * At a STREAM STOP. The block's queued rows stay queued: the applier executes them once enough have gathered
     * (inserted rows then go by COPY, which a block's few rows would not reach) or at the commit, in either case while
     * the main connection holds no locks; a subtransaction's rollback drops whatever of it is still queued.
     */
    void stop() {
        applying = false;
    }

    /** At a STREAM ABORT of {@code subXid} (or of the whole transaction when it equals {@code topXid}). */
    void abort(long topXid, long subXid) {
        if (!open || topXid != xid) return;
        if (subXid == topXid) {
            if (!abandoned) eager.rollback();
            open = false;
            applying = false;
            return;
        }
        int at = savepoints.indexOf(subXid);
        if (abandoned || at < 0) return;
        try {
            eager.rollbackToSavepoint(savepointName(subXid));
            changes = changesAt.get(subXid);
            List<Long> cut = savepoints.subList(at, savepoints.size());
            cut.forEach(changesAt::remove);
            cut.clear();
        } catch (FerryException failure) {
            if (ConnectionFailures.isTransient(failure)) throw failure;
            abandon(failure.getMessage());
        }
    }

    /**
     * At a STREAM COMMIT: commits the transaction if it was applied here, after the main connection's pending source
     * transactions. Returns false when it must be replayed from the spill file instead.
     */
    boolean commit(StreamCommit commit, long visibleSinceNanos) {
        if (!open || commit.xid() != xid) return false;
        open = false;
        applying = false;
        if (abandoned) return false;
        if (commit.commitLsn().isBefore(main.applied())) {
            // Applied before a restart; the slot streamed it again.
            eager.rollback();
            return true;
        }
        main.commitPending();
        try {
            eager.endSourceTransaction(commit.endLsn());
            eager.commitPending();
            main.committedElsewhere(commit.endLsn(), changes);
        } catch (FerryException failure) {
            if (ConnectionFailures.isTransient(failure)) throw failure;
            abandon(failure.getMessage());
            return false;
        }
        // NOTE: tests read "applied while it streamed" from this line.
        log.info("big transaction {} (committed at {}) applied while it streamed: {} changes, committed {} ms after its commit arrived", xid,
                commit.commitLsn(), changes, String.format("%.1f", (System.nanoTime() - visibleSinceNanos) / 1e6));
        return true;
    }

    private void relation(Relation relation) {
        // The main applier's definition must be this one: its drift checks (ColumnDrift) ran on it, and a relation
        // changed inside this transaction must wait for the commit to change the target.
        if (!relation.equals(mainRelations.get(relation.relationId()))) {
            abandon("the definition of " + new QualifiedName(relation.namespace(), relation.name()) + " in it is not the one the stream applies now");
            return;
        }
        timescale.relation(relation).ifPresent(mappedRelation -> {
            eager.relation(mappedRelation);
            mapped.add(relation.relationId());
        });
    }

    /** Whether a row change on {@code relationId} is applied here; opens its subtransaction's savepoint first. */
    private boolean row(long subXid, int relationId) {
        if (timescale.ignores(relationId)) return false;
        if (!mapped.contains(relationId)) {
            abandon("it changes relation id " + relationId + " without its definition in the stream");
            return false;
        }
        Lsn sync = syncLsns.get(eager.relationName(relationId));
        // A table copied again applies changes of transactions committed from its sync LSN on; every commit still to
        // come is at or past the applied LSN, so one behind it decides without the commit LSN.
        if (sync != null && sync.isAfter(main.applied())) {
            abandon(eager.relationName(relationId) + " was copied again and its copy's LSN " + sync + " is not applied yet");
            return false;
        }
        if (subXid != xid && changesAt.putIfAbsent(subXid, changes) == null) {
            eager.savepoint(savepointName(subXid));
            savepoints.add(subXid);
        }
        changes++;
        return true;
    }

    private void abandon(String why) {
        if (abandoned) return;
        abandoned = true;
        applying = false;
        eager.rollback();
        log.info("big transaction {} is replayed from its spill file at its commit, not applied while it streams: {}", xid, why);
    }

    private static String savepointName(long subXid) {
        return "ferry_sub_" + subXid;
    }
}
