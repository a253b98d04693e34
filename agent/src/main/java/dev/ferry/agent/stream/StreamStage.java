package dev.ferry.agent.stream;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.db.ConnectionFailures;
import dev.ferry.agent.db.Reconnection;
import dev.ferry.agent.db.Resources;
import dev.ferry.agent.source.ReplicationConnections;
import dev.ferry.agent.apply.Applier;
import dev.ferry.agent.apply.IdentityColumns;
import dev.ferry.agent.apply.RelationDrift;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.TargetSession;
import dev.ferry.agent.drift.ColumnDrift;
import dev.ferry.agent.drift.DriftStop;
import dev.ferry.agent.drift.NewTables;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.source.Publications;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.stream.ChangeStream;
import dev.ferry.replication.stream.StreamOptions;
import dev.ferry.replication.stream.WalMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Follows the slot until a cutover is requested and everything up to the cutover LSN is applied: the reader thread
 * receives, {@link SourceTransactions} groups what it receives into source transactions, the {@link Applier} applies
 * and commits them and says what may be confirmed to the source. A lost connection is waited out and the stream
 * resumes from the applied LSN. DDL drift is followed on the way ({@link ColumnDrift} at RELATION messages,
 * {@link NewTables} between source transactions, {@link DriftStop} where a change stops the stream). Runs on the
 * calling thread, which owns the applier and the connections but the replication one.
 */
public final class StreamStage {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    private static final long HEARTBEAT_NANOS = Duration.ofSeconds(1).toNanos();
    /**
     * The reader may run this far ahead of the apply thread: batches (of up to 1,024 messages) and wire bytes.
     * Decoded messages take several times their wire size on the heap, so the byte budget stays small.
     */
    private static final int QUEUE_BATCHES = 16;
    private static final long QUEUE_BYTES = 8L * 1024 * 1024;
    private static final Duration EAGER_LOCK_TIMEOUT = Duration.ofSeconds(2);

    private final MigrationConfig config;
    private final Database source;
    private final DataSource target;
    private final StateStore state;
    private final int sourceMajor;
    /** Grows when {@link NewTables} copies a table during the stream. */
    private final Map<QualifiedName, Lsn> syncLsns;
    private final MigrationMetrics metrics;
    private final Reconnection reconnection;
    private final DriftStop driftStop = new DriftStop();

    /**
     * @param syncLsns tables copied again after a restart, with the LSN their copy is consistent with: their changes in
     *                 source transactions committed before it are already in the copy and are skipped
     */
    public StreamStage(MigrationConfig config, Database source, DataSource target, StateStore state, int sourceMajor,
                       Map<QualifiedName, Lsn> syncLsns, MigrationMetrics metrics, Reconnection reconnection) {
        this.config = config;
        this.source = source;
        this.target = target;
        this.state = state;
        this.sourceMajor = sourceMajor;
        this.syncLsns = new HashMap<>(syncLsns);
        this.metrics = metrics;
        this.reconnection = reconnection;
    }

    /**
     * Streams from the applied LSN in ferry's state until a cutover is requested and drained, starting again from
     * there after each lost connection. {@code streamedTables} are the tables the stream writes.
     */
    public Drained run(List<QualifiedName> streamedTables) throws SQLException {
        while (true) {
            try {
                Lsn start;
                try (Connection dst = target.getConnection()) {
                    start = state.load(dst).orElseThrow().appliedLsn();
                    IdentityColumns.relax(dst, streamedTables.stream().map(config.schemaMap()::target).toList());
                }
                return follow(start);
            } catch (DriftStop.Replay replay) {
                // Once more from the last applied transaction, committing each one before the stop (DriftStop).
                driftStop.replaying(replay);
            } catch (SQLException | FerryException | StreamLost e) {
                if (!ConnectionFailures.isTransient(e)) throw e;
                metrics.streamError();
                // NOTE: "lost a connection while streaming" is what operators grep for.
                log.warn("lost a connection while streaming; the stream resumes from the last applied transaction once both servers answer.");
                reconnection.await("the stream", e);
            }
        }
    }

    /** One attempt: streams from {@code startLsn} until a cutover is drained or a connection is lost. */
    private Drained follow(Lsn startLsn) throws SQLException {
        StreamOptions options = StreamOptions.forServer(sourceMajor, List.of(config.publication(), config.insertOnlyPublication()));
        try (Connection replication = ReplicationConnections.open(source);
             Connection stateConnection = target.getConnection();
             Connection applyConnection = target.getConnection();
             Connection eagerConnection = target.getConnection();
             Connection sourceConnection = source.open();
             Connection driftConnection = source.open();
             SpilledTransactions spilled = new SpilledTransactions(config.workDir().resolve("spill"))) {
            stateConnection.setAutoCommit(true);
            TimescaleChanges timescale = TimescaleChanges.read(sourceConnection, config.tables());
            applyConnection.setAutoCommit(false);
            TargetSession.configure(applyConnection, "target");
            applyConnection.commit();
            configureEager(eagerConnection);
            NewTables newTables = new NewTables(config, source, sourceConnection, target, state, sourceMajor, metrics);
            // Before anything is applied: a copy a kill interrupted is finished before the stream writes to its table.
            syncLsns.putAll(newTables.follow());
            ChangeStream stream = ChangeStream.start(replication, new SlotName(config.slotName()), startLsn, options, config.statusInterval());
            ReceiveQueue queue = new ReceiveQueue(QUEUE_BATCHES, QUEUE_BYTES);
            StreamReader reader = new StreamReader(stream, queue, startLsn);
            Thread readerThread = new Thread(reader, "ferry-stream-reader");
            readerThread.setDaemon(true);
            Applier applier = new Applier(applyConnection, state, config.numericNanInf(), Publications.sendsGeneratedColumns(sourceMajor), startLsn,
                    metrics, reader::confirm, config.schemaMap(), driftFor(driftConnection, applyConnection, newTables));
            // A big streamed transaction is applied while it streams on a connection of its own (EagerTransaction); it
            // confirms nothing itself: the main applier does once it commits.
            Applier eagerApplier = new Applier(eagerConnection, state, config.numericNanInf(), Publications.sendsGeneratedColumns(sourceMajor), startLsn,
                    metrics, lsn -> { }, config.schemaMap(), null);
            try {
                readerThread.start();
                log.info("streaming from slot {} at {} (protocol version {}{})", config.slotName(), startLsn, options.protocolVersion(),
                        options.streaming() ? ", big transactions streamed and spilled to " + config.workDir().resolve("spill") : "");
                SourceTransactions transactions = new SourceTransactions(applier, spilled, timescale, syncLsns, options.protocolVersion(), metrics, driftStop,
                        options.streaming() ? Optional.of(eagerApplier) : Optional.empty());
                return drain(queue, reader, transactions, applier, eagerApplier, stateConnection, new StreamProgress(sourceConnection, config.slotName(), metrics), spilled,
                        newTables);
            } finally {
                reader.stop();
                joinQuietly(readerThread);
                readerThread.interrupt(); // in case it is blocked handing over to a queue nobody drains any more
                applier.close();
                eagerApplier.close();
                Resources.closeQuietly(stream, "the replication stream");
            }
        }
    }

    private Drained drain(ReceiveQueue queue, StreamReader reader, SourceTransactions transactions, Applier applier, Applier eagerApplier, Connection stateConnection,
                          StreamProgress progress, SpilledTransactions spilled, NewTables newTables) throws SQLException {
        long nextHeartbeat = 0;
        Optional<Lsn> cutover = Optional.empty();
        while (true) {
            // Between source transactions with work pending, do not wait: an empty queue is the cue to commit.
            boolean commitPending = !transactions.inTransaction() && applier.hasUncommittedWork();
            Optional<Received> received = take(queue, commitPending ? Duration.ZERO : Duration.ofMillis(100));
            if (received.isPresent() && received.get() instanceof Received.Messages messages) {
                for (WalMessage wal : messages.wals()) {
                    transactions.handle(wal);
                    if (!transactions.inTransaction()) applier.commitIfDue();
                }
            } else if (received.isPresent() && received.get() instanceof Received.Idle idle) {
                if (!transactions.inTransaction()) applier.caughtUpTo(idle.position());
            } else if (received.isPresent() && received.get() instanceof Received.Failed failed) {
                throw lost(failed.failure());
            } else if (!transactions.inTransaction()) {
                // Nothing more has arrived: commit now rather than make the target wait for a full batch.
                applier.commitPending();
            }
            long now = System.nanoTime();
            if (now >= nextHeartbeat) {
                cutover = state.heartbeat(stateConnection, applier.applied());
                nextHeartbeat = now + HEARTBEAT_NANOS;
            }
            progress.logIfDue(now, applier, spilled);
            if (!transactions.inTransaction() && newTables.due()) {
                applier.commitPending(); // a table copied again must hold no uncommitted rows of the stream
                syncLsns.putAll(newTables.follow());
            }
            Lsn applied = applier.applied();
            if (cutover.isPresent() && !transactions.inTransaction() && !applier.hasUncommittedWork() && !applied.isBefore(cutover.get())) {
                reader.confirm(applied);
                reader.requestStatus();
                state.heartbeat(stateConnection, applied);
                // NOTE: tests read "in N target transactions", "upserts coalesced" and "rows written by COPY" from this line.
                log.info("drained to {} for the cutover (requested at {}): {} source transactions, {} changes applied since this start,"
                                + " in {} target transactions, {} upserts coalesced, {} rows written by COPY",
                        applied, cutover.get(), applier.transactionsApplied(), applier.changesApplied(), applier.targetCommits(),
                        applier.coalesced() + eagerApplier.coalesced(), applier.copied() + eagerApplier.copied()); // big transactions' rows count too
                applier.logNanInfNulled();
                return new Drained(applied, applier.transactionsApplied(), applier.changesApplied());
            }
        }
    }

    /**
     * The eager connection gives up on a lock after {@link #EAGER_LOCK_TIMEOUT} (the transaction is then replayed from
     * its spill file): it shares the stream thread with the main connection, so waiting on a lock the thread itself
     * must release later would hang the stream.
     */
    private static void configureEager(Connection eager) throws SQLException {
        eager.setAutoCommit(false);
        TargetSession.configure(eager, "target");
        try (Statement s = eager.createStatement()) {
            s.execute("SET lock_timeout = '" + EAGER_LOCK_TIMEOUT.toMillis() + "ms'");
            // It sits idle in its transaction while the source's transaction is busy elsewhere.
            s.execute("SET idle_in_transaction_session_timeout = 0");
        }
        eager.commit();
    }

    /** A changed table is followed without --schema-map only (docs/ddl.md); with one it stops the stream, as before. */
    private RelationDrift driftFor(Connection driftConnection, Connection applyConnection, NewTables newTables) throws SQLException {
        return config.schemaMap().isEmpty() ? new ColumnDrift(driftConnection, applyConnection, state, newTables::request) : null;
    }

    private static Optional<Received> take(ReceiveQueue queue, Duration maxWait) {
        try {
            return queue.poll(maxWait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw FerryException.interrupted("the stream was interrupted.",
                    "run the same `ferry run` again to resume from the last applied transaction.", e);
        }
    }

    /** The reader's failure on this thread: a bug or a refusal of ferry's own as it is, anything else as a lost stream. */
    private static RuntimeException lost(Exception failure) {
        if (failure instanceof RuntimeException runtime) return runtime;
        return new StreamLost(failure);
    }

    private static void joinQuietly(Thread thread) {
        try {
            thread.join(Duration.ofSeconds(5).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
