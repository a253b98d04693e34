package dev.ferry.agent.stream;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.Applier;
import dev.ferry.agent.db.ConnectionFailures;
import dev.ferry.agent.drift.DriftStop;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Begin;
import dev.ferry.replication.pgoutput.Commit;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.LogicalMessage;
import dev.ferry.replication.pgoutput.Origin;
import dev.ferry.replication.pgoutput.PgOutputDecoder;
import dev.ferry.replication.pgoutput.PgOutputMessage;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.StreamAbort;
import dev.ferry.replication.pgoutput.StreamCommit;
import dev.ferry.replication.pgoutput.StreamStart;
import dev.ferry.replication.pgoutput.StreamStop;
import dev.ferry.replication.pgoutput.Streamed;
import dev.ferry.replication.pgoutput.Truncate;
import dev.ferry.replication.pgoutput.Type;
import dev.ferry.replication.pgoutput.Update;
import dev.ferry.replication.stream.WalMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Turns the slot's messages into source transactions for the {@link Applier}, in commit order: a transaction's
 * changes between its BEGIN and COMMIT; a big transaction PostgreSQL streamed while in progress, from its spill file
 * at its STREAM COMMIT (aborted subtransactions cut off, aborted transactions dropped) unless {@link EagerTransaction}
 * applied it while it streamed; and without the changes the
 * target already holds: whole transactions applied before a restart, and changes to a table copied again after one
 * in transactions its copy already saw (sync LSN); a changed table stops it at a source transaction's start
 * ({@link DriftStop}). Owned by the stream thread.
 */
final class SourceTransactions {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");

    private final Applier applier;
    private final SpilledTransactions spilled;
    private final PgOutputDecoder replayDecoder;
    private final TimescaleChanges timescale;
    private final Map<QualifiedName, Lsn> syncLsns;
    private final MigrationMetrics metrics;
    private final DriftStop drift;
    /** The last RELATION message handled for each relation id, which the eager path checks its own against. */
    private final Map<Integer, Relation> relations = new HashMap<>();
    private final Optional<EagerTransaction> eager;

    private boolean inTransaction;
    private boolean skipping;
    private Lsn transactionFinalLsn = Lsn.ZERO;
    private long streamingXid;

    /**
     * @param protocolVersion the pgoutput version streamed, to decode what was spilled
     * @param syncLsns        tables copied again after a restart or during the stream, with the LSN their copy is
     *                        consistent with; read at each change, so tables added to it later count
     */
    SourceTransactions(Applier applier, SpilledTransactions spilled, TimescaleChanges timescale, Map<QualifiedName, Lsn> syncLsns,
                       int protocolVersion, MigrationMetrics metrics) {
        this(applier, spilled, timescale, syncLsns, protocolVersion, metrics, new DriftStop(), Optional.empty());
    }

    /** @param eagerApplier applies one streamed transaction while it streams, on a target connection of its own; empty: spill only */
    SourceTransactions(Applier applier, SpilledTransactions spilled, TimescaleChanges timescale, Map<QualifiedName, Lsn> syncLsns,
                       int protocolVersion, MigrationMetrics metrics, DriftStop drift, Optional<Applier> eagerApplier) {
        this.applier = applier;
        this.spilled = spilled;
        this.timescale = timescale;
        this.syncLsns = syncLsns;
        this.replayDecoder = new PgOutputDecoder(protocolVersion, false);
        this.metrics = metrics;
        this.drift = drift;
        this.eager = eagerApplier.map(e -> new EagerTransaction(e, applier, timescale, syncLsns, relations));
    }

    /** Whether the last message left a source transaction open: the target may commit only between them. */
    boolean inTransaction() {
        return inTransaction;
    }

    /** Dispatches one message; the only place that knows every kind the stream can carry. */
    void handle(WalMessage wal) {
        PgOutputMessage message = wal.message();
        if (message instanceof Begin begin) {
            beginTransaction(begin.finalLsn(), begin.xid());
        } else if (message instanceof Commit commit) {
            endTransaction(commit.endLsn());
            metrics.appliedCommit(commit.commitTime());
        } else if (message instanceof StreamStart start) {
            streamingXid = start.xid();
            eager.ifPresent(e -> e.start(streamingXid));
        } else if (message instanceof Streamed streamed) {
            // Spilled even when applied eagerly: the replay is the fallback wherever the eager path gives up.
            spilled.append(streamingXid, streamed.xid(), wal.payload());
            eager.ifPresent(e -> e.change(streamed.xid(), streamed.message()));
        } else if (message instanceof StreamStop) {
            // the next block may belong to another transaction; nothing more to do until STREAM COMMIT or ABORT
            eager.ifPresent(EagerTransaction::stop);
        } else if (message instanceof StreamCommit commit) {
            long arrived = System.nanoTime();
            if (eager.isPresent() && eager.get().commit(commit, arrived)) spilled.discard(commit.xid());
            else replayStreamed(commit);
            metrics.appliedCommit(commit.commitTime());
        } else if (message instanceof StreamAbort abort) {
            spilled.abort(abort.xid(), abort.subXid());
            eager.ifPresent(e -> e.abort(abort.xid(), abort.subXid()));
        } else {
            change(message);
        }
    }

    private void beginTransaction(Lsn finalLsn, long xid) {
        inTransaction = true;
        transactionFinalLsn = finalLsn;
        timescale.begin();
        // Already applied before a restart (the slot may resend what was committed but not yet confirmed).
        skipping = finalLsn.isBefore(applier.applied());
        drift.begin(applier);
        MDC.put("lsn", " " + finalLsn);
        if (log.isTraceEnabled()) log.trace("<- BEGIN xid {} commit at {}{}", xid, finalLsn, skipping ? " (already applied, skipped)" : "");
    }

    private void endTransaction(Lsn endLsn) {
        inTransaction = false;
        if (!skipping) applier.endSourceTransaction(endLsn);
        if (drift.commitsAlone(transactionFinalLsn)) applier.commitPending();
        skipping = false;
        MDC.remove("lsn");
    }

    /** A row change, relation definition or other message inside a transaction. */
    private void change(PgOutputMessage message) {
        if (message instanceof Relation relation) {
            try {
                timescale.relation(relation).ifPresent(applier::relation); // a chunk's renamed to its hypertable
                relations.put(relation.relationId(), relation);
            } catch (FerryException stop) {
                // A connection lost while the RELATION flushed queued rows is not a changed table: the stream resumes.
                if (ConnectionFailures.isTransient(stop)) throw stop;
                throw drift.at(transactionFinalLsn, stop, applier);
            }
        } else if (message instanceof Insert insert) {
            if (applies(insert.relationId())) applier.insert(insert);
        } else if (message instanceof Update update) {
            if (applies(update.relationId())) applier.update(update);
        } else if (message instanceof Delete delete) {
            if (applies(delete.relationId())) applier.delete(delete);
        } else if (message instanceof Truncate truncate) {
            List<Integer> ids = new ArrayList<>();
            for (int id : timescale.truncated(truncate.relationIds())) if (applies(id)) ids.add(id);
            if (!ids.isEmpty()) applier.truncate(new Truncate(ids, truncate.cascade(), truncate.restartIdentity()));
        } else if (message instanceof LogicalMessage logical) {
            timescale.message(logical); // TimescaleDB's compression markers; other messages carry no rows
        } else if (message instanceof Type || message instanceof Origin) {
            // nothing to apply: types are matched by name on the target, origins carry no rows
        } else {
            throw new IllegalStateException("unhandled " + message);
        }
    }

    private boolean applies(int relationId) {
        if (skipping || !timescale.applies(relationId)) return false;
        // Usually no table was copied again: then the relation is looked up once per change, by the applier only.
        if (syncLsns.isEmpty()) return true;
        Lsn sync = syncLsns.get(applier.relationName(relationId));
        return sync == null || !transactionFinalLsn.isBefore(sync);
    }

    private void replayStreamed(StreamCommit commit) {
        long started = System.nanoTime();
        long changesBefore = applier.uncommittedChanges();
        beginTransaction(commit.commitLsn(), commit.xid());
        spilled.replay(commit.xid(), payload -> {
            PgOutputMessage message = replayDecoder.decode(ByteBuffer.wrap(payload), true);
            change(message instanceof Streamed streamed ? streamed.message() : message);
        });
        endTransaction(commit.endLsn());
        log.info("replayed big transaction {} (committed at {}): {} changes from the spill file in {} s", commit.xid(), commit.commitLsn(),
                applier.uncommittedChanges() - changesBefore, String.format("%.1f", (System.nanoTime() - started) / 1e9));
    }
}
