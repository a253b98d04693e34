package dev.ferry.agent.stream;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.Applier;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.QualifiedName;
import dev.ferry.agent.db.TargetSession;
import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.logging.Units;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.snapshot.Publications;
import dev.ferry.agent.state.StateStore;
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
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.stream.ChangeStream;
import dev.ferry.replication.stream.StreamOptions;
import dev.ferry.replication.stream.WalMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import javax.sql.DataSource;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Follows the slot and applies each source transaction to the target until a cutover is requested and everything
 * up to the cutover LSN is applied. Confirms to the source only what the target has committed. Runs on the calling
 * thread, which owns the stream, the applier and their connections.
 */
public final class StreamStage {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    /** Commit the target transaction at a source commit once it holds this many changes or is this old. */
    private static final long COMMIT_CHANGES = 20_000;
    private static final long COMMIT_NANOS = Duration.ofMillis(500).toNanos();
    private static final long HEARTBEAT_NANOS = Duration.ofSeconds(1).toNanos();
    /**
     * The reader may run this far ahead of the apply thread: batches (of up to 1,024 messages) and wire bytes.
     * Decoded messages take several times their wire size on the heap, so the byte budget stays small.
     */
    private static final int QUEUE_BATCHES = 16;
    private static final long QUEUE_BYTES = 8L * 1024 * 1024;
    private static final long PROGRESS_NANOS = Duration.ofSeconds(5).toNanos();

    private final MigrationConfig config;
    private final Database source;
    private final DataSource target;
    private final StateStore state;
    private final int sourceMajor;
    private final Map<QualifiedName, Lsn> syncLsns;
    private final MigrationMetrics metrics;

    // Per-run state, owned by the stream thread.
    private Applier applier;
    private StreamReader reader;
    private ReceiveQueue queue;
    private SpilledTransactions spilled;
    private PgOutputDecoder replayDecoder;
    private TimescaleChanges timescale = TimescaleChanges.none();
    private Lsn applied;
    private boolean inTransaction;
    private boolean skipping;
    private Lsn transactionFinalLsn = Lsn.ZERO;
    private long streamingXid;
    /** Changes applied and the time at the last progress line, for its changes/s. */
    private long changesAtProgress;
    private long progressNanos = System.nanoTime();

    /**
     * @param syncLsns tables copied again after a restart, with the LSN their copy is consistent with: their changes in
     *                 source transactions committed before it are already in the copy and are skipped
     */
    public StreamStage(MigrationConfig config, Database source, DataSource target, StateStore state, int sourceMajor,
                       Map<QualifiedName, Lsn> syncLsns, MigrationMetrics metrics) {
        this.config = config;
        this.source = source;
        this.target = target;
        this.state = state;
        this.sourceMajor = sourceMajor;
        this.syncLsns = Map.copyOf(syncLsns);
        this.metrics = metrics;
    }

    /** What the stream reached when the cutover was drained. */
    public record Drained(Lsn lsn, long transactions, long changes) {}

    /** Streams from {@code startLsn} until a cutover is requested and drained. */
    public Drained run(Lsn startLsn) throws SQLException {
        StreamOptions options = StreamOptions.forServer(sourceMajor, List.of(config.publication(), config.insertOnlyPublication()));
        applied = startLsn;
        inTransaction = false;
        skipping = false;
        replayDecoder = new PgOutputDecoder(options.protocolVersion(), false);
        try (Connection replication = ReplicationConnection.open(source.spec().jdbcUrl(), source.properties());
             Connection stateConnection = target.getConnection();
             Connection applyConnection = target.getConnection();
             Connection sourceLsnConnection = source.open();
             SpilledTransactions spill = new SpilledTransactions(config.workDir().resolve("spill"))) {
            stateConnection.setAutoCommit(true);
            timescale = TimescaleChanges.read(sourceLsnConnection, config.excludeTables());
            applyConnection.setAutoCommit(false);
            TargetSession.configure(applyConnection, "target");
            applyConnection.commit();
            spilled = spill;
            applier = new Applier(applyConnection, state, config.numericNanInf(), Publications.sendsGeneratedColumns(sourceMajor), config.schemaMap());
            ChangeStream stream = ChangeStream.start(replication, new SlotName(config.slotName()), startLsn, options, config.statusInterval());
            queue = new ReceiveQueue(QUEUE_BATCHES, QUEUE_BYTES);
            reader = new StreamReader(stream, queue, startLsn);
            Thread readerThread = new Thread(reader, "ferry-stream-reader");
            readerThread.setDaemon(true);
            readerThread.start();
            log.info("streaming from slot {} at {} (protocol version {}{})", config.slotName(), startLsn, options.protocolVersion(),
                    options.streaming() ? ", big transactions streamed and spilled to " + config.workDir().resolve("spill") : "");
            try {
                return follow(stateConnection, sourceLsnConnection);
            } finally {
                reader.stop();
                joinQuietly(readerThread);
                readerThread.interrupt(); // in case it is blocked handing over to a queue nobody drains any more
                applier.close();
                closeQuietly(stream);
            }
        }
    }

    private Drained follow(Connection stateConnection, Connection sourceLsnConnection) throws SQLException {
        long nextHeartbeat = 0;
        long nextProgress = System.nanoTime() + PROGRESS_NANOS;
        Optional<Lsn> cutover = Optional.empty();
        while (true) {
            // Between source transactions with work pending, do not wait: an empty queue is the cue to commit.
            boolean commitPending = !inTransaction && applier.hasUncommittedWork();
            Optional<Received> received = take(commitPending ? Duration.ZERO : Duration.ofMillis(100));
            if (received.isPresent() && received.get() instanceof Received.Messages messages) {
                for (WalMessage wal : messages.wals()) {
                    handle(wal);
                    if (!inTransaction && (applier.uncommittedChanges() >= COMMIT_CHANGES || applier.openNanos() >= COMMIT_NANOS)) commitTarget();
                }
            } else if (received.isPresent() && received.get() instanceof Received.Idle idle) {
                if (!inTransaction) {
                    if (applier.hasUncommittedWork()) commitTarget();
                    confirmIdlePosition(idle.position());
                }
            } else if (received.isPresent() && received.get() instanceof Received.Failed failed) {
                throw rethrow(failed.failure());
            } else if (!inTransaction && applier.hasUncommittedWork()) {
                // Nothing more has arrived: commit now rather than make the target wait for a full batch.
                commitTarget();
            }
            long now = System.nanoTime();
            if (now >= nextHeartbeat) {
                cutover = state.heartbeat(stateConnection, applied);
                nextHeartbeat = now + HEARTBEAT_NANOS;
            }
            if (now >= nextProgress) {
                logProgress(sourceLsnConnection);
                nextProgress = now + PROGRESS_NANOS;
            }
            if (cutover.isPresent() && !inTransaction && !applier.hasUncommittedWork() && !applied.isBefore(cutover.get())) {
                reader.confirm(applied);
                reader.requestStatus();
                state.heartbeat(stateConnection, applied);
                // NOTE: tests read "in N target transactions", "upserts coalesced" and "rows written by COPY" from this line.
                log.info("drained to {} for the cutover (requested at {}): {} source transactions, {} changes applied since this start,"
                                + " in {} target transactions, {} upserts coalesced, {} rows written by COPY",
                        applied, cutover.get(), applier.transactionsApplied(), applier.changesApplied(), applier.targetCommits(), applier.coalesced(),
                        applier.copied());
                return new Drained(applied, applier.transactionsApplied(), applier.changesApplied());
            }
        }
    }

    /** Dispatches one message; the only place that knows every kind the stream can carry. */
    private void handle(WalMessage wal) {
        PgOutputMessage message = wal.message();
        if (message instanceof Begin begin) {
            beginTransaction(begin.finalLsn(), begin.xid());
        } else if (message instanceof Commit commit) {
            endTransaction(commit.endLsn());
            metrics.appliedCommit(commit.commitTime());
        } else if (message instanceof StreamStart start) {
            streamingXid = start.xid();
        } else if (message instanceof Streamed streamed) {
            spilled.append(streamingXid, streamed.xid(), wal.payload());
        } else if (message instanceof StreamStop) {
            // the next block may belong to another transaction; nothing to do until STREAM COMMIT or ABORT
        } else if (message instanceof StreamCommit commit) {
            replayStreamed(commit);
            metrics.appliedCommit(commit.commitTime());
        } else if (message instanceof StreamAbort abort) {
            spilled.abort(abort.xid(), abort.subXid());
        } else {
            change(message);
        }
    }

    private void beginTransaction(Lsn finalLsn, long xid) {
        inTransaction = true;
        transactionFinalLsn = finalLsn;
        timescale.begin();
        // Already applied before a restart (the slot may resend what was committed but not yet confirmed).
        skipping = finalLsn.isBefore(applied);
        MDC.put("lsn", " " + finalLsn);
        if (log.isTraceEnabled()) log.trace("<- BEGIN xid {} commit at {}{}", xid, finalLsn, skipping ? " (already applied, skipped)" : "");
    }

    private void endTransaction(Lsn endLsn) {
        inTransaction = false;
        if (!skipping) applier.endSourceTransaction(endLsn);
        skipping = false;
        MDC.remove("lsn");
    }

    /** A row change, relation definition or other message inside a transaction. */
    private void change(PgOutputMessage message) {
        if (message instanceof Relation relation) {
            timescale.relation(relation).ifPresent(applier::relation); // a chunk's renamed to its hypertable
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

    private void commitTarget() {
        long transactions = applier.transactionsApplied();
        long changes = applier.changesApplied();
        Optional<Lsn> committed = applier.commit();
        if (committed.isPresent()) {
            applied = Lsn.max(applied, committed.get());
            reader.confirm(applied);
        }
        metrics.applied(applier.transactionsApplied() - transactions, applier.changesApplied() - changes, applied.value());
    }

    /**
     * With nothing in flight, everything the server sent before an idle marker is applied, so its position can be
     * confirmed too: this lets the slot release WAL on a quiet source, and lets a cutover finish when no transaction
     * follows it.
     */
    private void confirmIdlePosition(Lsn received) {
        if (applier.hasUncommittedWork()) return;
        if (received.isAfter(applied)) {
            applied = received;
            reader.confirm(applied);
            metrics.applied(0, 0, applied.value());
        }
    }

    private Optional<Received> take(Duration maxWait) {
        try {
            return queue.poll(maxWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FerryException("the stream was interrupted.", "ferry is shutting down.",
                    "run the same `ferry run` again to resume from the last applied transaction.", ExitCode.INTERRUPTED, e);
        }
    }

    private static SQLException rethrow(Exception failure) {
        if (failure instanceof SQLException sql) return sql;
        if (failure instanceof RuntimeException runtime) throw runtime;
        return new SQLException("the replication stream failed: " + failure, "08006", failure);
    }

    private static void joinQuietly(Thread thread) {
        try {
            thread.join(Duration.ofSeconds(5).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * NOTE: documented in docs/operations.md. For example {@code streaming: applied 0/3A2F1B0 (source at 0/3A30000,
     * lag 3.6 kB, 0.2 s); 1,250 changes/s; source retains 16.0 MB of WAL for the slot}.
     */
    private void logProgress(Connection sourceLsnConnection) {
        try {
            WalPosition.SlotRetention source = WalPosition.slot(sourceLsnConnection, config.slotName());
            long retained = source.retainedBytes().orElse(0L);
            metrics.sourcePosition(source.current().value());
            metrics.retainedWal(retained);
            long now = System.nanoTime();
            long changes = applier.changesApplied();
            double rate = (changes - changesAtProgress) / Math.max((now - progressNanos) / 1e9, 1e-3);
            changesAtProgress = changes;
            progressNanos = now;
            log.info(LogSetup.PROGRESS, "streaming: applied {} (source at {}, lag {}, {} s); {} changes/s; source retains {} of WAL for the slot{}",
                    applied, source.current(), Units.bytes((long) metrics.lagBytes()), String.format(Locale.ROOT, "%.1f", metrics.lagSeconds()),
                    String.format("%,.0f", rate), Units.bytes(retained),
                    spilled.isEmpty() ? "" : "; " + Units.bytes(spilled.bytes()) + " of in-progress transactions spilled");
        } catch (SQLException e) {
            log.debug("could not read the source's WAL position for the progress line", e);
        }
    }

    private static void closeQuietly(ChangeStream stream) {
        try {
            stream.close();
        } catch (SQLException e) {
            log.debug("closing the replication stream", e);
        }
    }
}
