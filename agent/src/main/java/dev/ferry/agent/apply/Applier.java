package dev.ferry.agent.apply;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.Truncate;
import dev.ferry.replication.pgoutput.Update;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Applies source transactions to the target and decides when the target commits: changes are queued per relation
 * ({@link TargetWriter}) and, at a source commit boundary once enough has gathered ({@link TargetTransaction}),
 * committed together with the end LSN of the last source transaction they complete. After a crash the target holds
 * either a source transaction and its LSN, or neither, so replay from the slot is exactly-once; only a committed LSN
 * is handed to {@code confirm}, for the source. Owned by the stream thread, which calls it between and inside source
 * transactions in their commit order.
 */
public final class Applier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger("ferry.apply");
    /** Executes queued rows (without committing) past these, so memory stays bounded inside huge transactions. */
    private static final int FLUSH_ROWS = 5_000;
    private static final long FLUSH_BYTES = 16L * 1024 * 1024;

    private final Connection target;
    private final StateStore state;
    private final MigrationMetrics metrics;
    private final Consumer<Lsn> confirm;
    private final RelationMapper mapper;
    private final TargetWriter writer;
    private final RowChanges rows;
    private final TargetTransaction transaction;
    private final Map<Integer, RowStatements> relations = new HashMap<>();
    private final Map<QualifiedName, RowStatements> byTarget = new HashMap<>();

    /**
     * @param target               a connection in manual-commit mode, configured by TargetSession
     * @param sourceSendsGenerated the source's publications send stored generated columns (PostgreSQL 18+)
     * @param applied              the applied LSN recorded in ferry's state, where the stream starts
     * @param confirm              told each LSN once the target has committed everything up to it
     */
    public Applier(Connection target, StateStore state, NumericNanInf numericNanInf, boolean sourceSendsGenerated, Lsn applied,
                   MigrationMetrics metrics, Consumer<Lsn> confirm) {
        this(target, state, numericNanInf, sourceSendsGenerated, applied, metrics, confirm, SchemaMap.NONE, null);
    }

    /**
     * @param schemaMap where each source schema's relations are on the target
     * @param drift     brings a target table in line with a changed source table at its RELATION message; null: a change stops the stream
     */
    public Applier(Connection target, StateStore state, NumericNanInf numericNanInf, boolean sourceSendsGenerated, Lsn applied,
                   MigrationMetrics metrics, Consumer<Lsn> confirm, SchemaMap schemaMap, RelationDrift drift) {
        this.target = target;
        this.state = state;
        this.metrics = metrics;
        this.confirm = confirm;
        this.mapper = new RelationMapper(target, sourceSendsGenerated, schemaMap, drift);
        this.writer = new TargetWriter(target);
        this.rows = new RowChanges(numericNanInf, this::queue);
        this.transaction = new TargetTransaction(applied);
    }

    /** Learns (or re-learns after DDL) a relation from its RELATION message, checking it against the target. */
    public void relation(Relation relation) {
        try {
            // Rows queued under the old definition go first: a column the mapper adds gives them the source's value for it.
            writer.flush();
            TargetRelation mapped = mapper.map(relation);
            // Several source relations may stand for one target table (a hypertable's chunks): they share one queue,
            // so a row moved between chunks (DELETE in one, INSERT in another) is applied in its source order.
            RowStatements shared = byTarget.get(mapped.name());
            boolean same = shared != null && shared.relation().columns().equals(mapped.columns()) && Arrays.equals(shared.relation().key(), mapped.key())
                    && shared.relation().fullIdentity() == mapped.fullIdentity();
            RowStatements statements = same ? shared : new RowStatements(mapped);
            byTarget.put(mapped.name(), statements);
            relations.put(relation.relationId(), statements);
        } catch (SQLException e) {
            throw failure("reading the target's definition of " + new QualifiedName(relation.namespace(), relation.name()), e);
        }
    }

    /** The target table a relation id stands for; the stream only sends changes after the relation's definition. */
    public QualifiedName relationName(int relationId) {
        return statements(relationId).relation().name();
    }

    public void insert(Insert insert) {
        rows.insert(statements(insert.relationId()), insert);
    }

    public void update(Update update) {
        rows.update(statements(update.relationId()), update);
    }

    public void delete(Delete delete) {
        rows.delete(statements(delete.relationId()), delete);
    }

    public void truncate(Truncate truncate) {
        List<String> names = new ArrayList<>();
        for (int id : truncate.relationIds()) {
            TargetRelation relation = statements(id).relation();
            names.add(relation.partitioned() ? relation.name().toString() : "ONLY " + relation.name());
        }
        String sql = "TRUNCATE " + String.join(", ", names) + (truncate.restartIdentity() ? " RESTART IDENTITY" : "")
                + (truncate.cascade() ? " CASCADE" : "");
        try {
            writer.flush();
            try (Statement s = target.createStatement()) {
                s.execute(sql);
            }
            transaction.changed();
        } catch (SQLException e) {
            throw failure("TRUNCATE " + String.join(", ", names), e);
        }
    }

    /** A source transaction is complete; its end LSN is recorded with the next target commit. */
    public void endSourceTransaction(Lsn endLsn) {
        transaction.sourceTransactionEnded(endLsn);
    }

    /**
     * Call between source transactions: commits once the target transaction holds 20,000 changes or is 500 ms old
     * ({@link TargetTransaction}).
     */
    public void commitIfDue() {
        if (transaction.due()) commit();
    }

    /** Call between source transactions: commits whatever awaits a commit, when nothing more is coming for now. */
    public void commitPending() {
        if (transaction.hasWork()) commit();
    }

    /**
     * Call between source transactions when the server has sent everything up to {@code received} and all of it has
     * been handed over: commits, and then that position is applied too. This lets the slot release WAL on a quiet
     * source, and lets a cutover finish when no transaction follows it.
     */
    public void caughtUpTo(Lsn received) {
        commitPending();
        if (transaction.caughtUpTo(received)) {
            confirm.accept(transaction.applied());
            metrics.applied(0, 0, transaction.applied().value());
        }
    }

    /**
     * Inside a source transaction applied while it streams: executes what is queued, then marks a savepoint, so a
     * subtransaction rolled back on the source can be rolled back here without the changes before it.
     */
    public void savepoint(String name) {
        try {
            writer.flush();
            try (Statement s = target.createStatement()) {
                s.execute("SAVEPOINT " + name);
            }
        } catch (SQLException e) {
            throw failure("SAVEPOINT " + name, e);
        }
    }

    /**
     * Rolls back to {@link #savepoint}: what is queued was queued after the latest savepoint, so after this one too,
     * and is dropped.
     */
    public void rollbackToSavepoint(String name) {
        writer.clear();
        try (Statement s = target.createStatement()) {
            s.execute("ROLLBACK TO SAVEPOINT " + name);
        } catch (SQLException e) {
            throw failure("ROLLBACK TO SAVEPOINT " + name, e);
        }
    }

    /**
     * A source transaction ending at {@code endLsn} was committed on another target connection, with that LSN in
     * ferry's state, after everything this one had pending: the applied LSN moves there and is confirmed.
     */
    public void committedElsewhere(Lsn endLsn, long changes) {
        if (transaction.hasWork()) throw new IllegalStateException("a transaction committed elsewhere while this connection still held work");
        transaction.committedElsewhere(endLsn, changes);
        confirm.accept(transaction.applied());
    }

    /** Drops what awaits a target commit (the stream delivers it again). */
    public void rollback() {
        writer.clear();
        transaction.rolledBack();
        try {
            target.rollback();
        } catch (SQLException e) {
            log.debug("rollback failed on a connection that is going away", e);
        }
    }

    /** The LSN up to which the target holds every source transaction, committed. */
    public Lsn applied() { return transaction.applied(); }

    /** Whether anything (rows or completed source transactions) awaits a target commit. */
    public boolean hasUncommittedWork() { return transaction.hasWork(); }

    public long uncommittedChanges() { return transaction.changes(); }

    public long changesApplied() { return transaction.changesApplied(); }

    public long transactionsApplied() { return transaction.transactionsApplied(); }

    /** Target transactions committed: fewer than source transactions when batching pays. */
    public long targetCommits() { return transaction.commits(); }

    /** Queued upserts that a later upsert of the same key replaced before they ran. */
    public long coalesced() { return writer.coalesced(); }

    /** Inserted rows written by COPY because many came together (backlogs, big transactions). */
    public long copied() { return writer.copied(); }

    /** NOTE: the fix of a rejected Infinity (below) promises these counts per table in stream.log. */
    public void logNanInfNulled() {
        rows.nanInfNulled().forEach((table, count) ->
                log.warn("{}: wrote NULL for {} NaN/Infinity numeric values (--numeric-nan-inf null) since the stream started", table, count));
    }

    @Override
    public void close() {
        writer.close();
    }

    /** Executes what is queued and commits it with the end LSN of the last completed source transaction. */
    private void commit() {
        long transactions = transaction.transactionsApplied();
        long changes = transaction.changesApplied();
        try {
            writer.flush();
            if (transaction.completedEnd().isPresent()) state.recordApplied(target, transaction.completedEnd().get());
            target.commit();
        } catch (SQLException e) {
            throw failure("committing applied changes", e);
        }
        transaction.committed();
        if (transaction.completedEnd().isPresent()) confirm.accept(transaction.applied());
        metrics.applied(transaction.transactionsApplied() - transactions, transaction.changesApplied() - changes, transaction.applied().value());
    }

    private void queue(PendingRow row) {
        writer.add(row);
        transaction.changed();
        if (writer.rows() >= FLUSH_ROWS || writer.bytes() >= FLUSH_BYTES) {
            try {
                writer.flush();
            } catch (SQLException e) {
                throw failure("applying changes", e);
            }
        }
    }

    private RowStatements statements(int relationId) {
        RowStatements statements = relations.get(relationId);
        if (statements == null) {
            throw new IllegalStateException("change for relation id " + relationId + " before its RELATION message");
        }
        return statements;
    }

    private FerryException failure(String what, SQLException e) {
        // Row changes (JDBC batches included) fail inside TargetWriter, which names their table.
        SQLException cause = e;
        if (e instanceof RelationFailure failure) {
            what = "applying changes to " + failure.relation();
            cause = failure.serverError();
        }
        String message = cause.getMessage() + " (SQLSTATE " + cause.getSQLState() + ")";
        String fix = "fix the cause on the target, then run the same `ferry run` again: it resumes from the last applied transaction and nothing is skipped.";
        if ("22P02".equals(cause.getSQLState()) && (message.contains("Infinity") || message.contains("NaN"))) {
            fix = "the target (PostgreSQL before 14) cannot store numeric Infinity: run `ferry run` again with --numeric-nan-inf null to write NULL instead (counted per table in stream.log).";
        }
        return new FerryException(what + " failed on the target: " + cause.getMessage(),
                "the target rejected a change, so ferry stopped before confirming it to the source (" + message + ").", fix, e);
    }
}
