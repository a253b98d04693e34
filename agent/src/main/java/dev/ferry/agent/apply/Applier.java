package dev.ferry.agent.apply;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.db.QualifiedName;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.Truncate;
import dev.ferry.replication.pgoutput.Tuple;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.pgoutput.Update;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Turns source row changes into statements on the target and commits them together with the end LSN of the last
 * source transaction they complete, in one target transaction: after a crash the target holds either a source
 * transaction and its LSN, or neither, so replay from the slot is exactly-once. Several source transactions may
 * share one target transaction (commit order and the LSN are kept). Owned by the stream thread.
 */
public final class Applier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    /** Executes queued rows (without committing) past these, so memory stays bounded inside huge transactions. */
    private static final int FLUSH_ROWS = 5_000;
    private static final long FLUSH_BYTES = 16L * 1024 * 1024;

    private final Connection target;
    private final StateStore state;
    private final NumericNanInf numericNanInf;
    private final RelationMapper mapper;
    private final ChangeBatch batch;
    private final Map<Integer, RowStatements> relations = new HashMap<>();
    private final Map<QualifiedName, RowStatements> byTarget = new HashMap<>();
    private final Map<QualifiedName, Long> nanInfNulled = new HashMap<>();

    private Optional<Lsn> completedEnd = Optional.empty();
    private long uncommittedChanges;
    private int uncommittedTransactions;
    private long openedNanos;
    private long changesApplied;
    private long transactionsApplied;
    private long targetCommits;

    /**
     * @param target             a connection in manual-commit mode, configured by TargetSession
     * @param sourceSendsGenerated the source's publications send stored generated columns (PostgreSQL 18+)
     */
    public Applier(Connection target, StateStore state, NumericNanInf numericNanInf, boolean sourceSendsGenerated) {
        this(target, state, numericNanInf, sourceSendsGenerated, SchemaMap.NONE);
    }

    /** @param schemaMap where each source schema's relations are on the target */
    public Applier(Connection target, StateStore state, NumericNanInf numericNanInf, boolean sourceSendsGenerated, SchemaMap schemaMap) {
        this.target = target;
        this.state = state;
        this.numericNanInf = numericNanInf;
        this.mapper = new RelationMapper(target, sourceSendsGenerated, schemaMap);
        this.batch = new ChangeBatch(target);
    }

    /** Learns (or re-learns after DDL) a relation from its RELATION message, checking it against the target. */
    public void relation(Relation relation) {
        try {
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
        RowStatements statements = statements(insert.relationId());
        TargetRelation relation = statements.relation();
        Values row = values(relation, insert.row());
        String sql = relation.hasKey() ? statements.upsert(row.present) : statements.insert(row.present);
        queue(new PendingRow(statements, sql, row.parameters(), relation.hasKey() ? keyOf(relation, row) : null, PendingRow.Kind.INSERT, row.bytes));
    }

    public void update(Update update) {
        RowStatements statements = statements(update.relationId());
        TargetRelation relation = statements.relation();
        Values next = values(relation, update.next());
        // Nothing the stream carries changed (a table whose only columns are generated, or none): nothing to write.
        if (next.present.isEmpty()) return;
        if (relation.fullIdentity()) {
            Tuple oldTuple = update.old().orElseThrow(() -> new IllegalStateException(
                    "UPDATE on " + relation.name() + " with REPLICA IDENTITY FULL carries no old row"));
            Values old = values(relation, oldTuple);
            queue(new PendingRow(statements, statements.updateOneMatching(next.present, old.present),
                    concat(next.parameters(), old.parameters()), null, PendingRow.Kind.MUST_FIND_ROW, next.bytes + old.bytes));
            return;
        }
        requireKey(relation, "UPDATE");
        if (update.old().isPresent()) {
            Values oldKey = values(relation, update.old().get());
            if (!sameKey(relation, oldKey, next)) {
                // The primary key changed: remove the row under its old key, then write it under the new one.
                queue(new PendingRow(statements, statements.deleteByKey(), keyParameters(relation, oldKey), keyOf(relation, oldKey), PendingRow.Kind.MUST_FIND_ROW, oldKey.bytes));
            }
        }
        queue(new PendingRow(statements, statements.upsert(next.present), next.parameters(), keyOf(relation, next), PendingRow.Kind.UPSERT, next.bytes));
    }

    public void delete(Delete delete) {
        RowStatements statements = statements(delete.relationId());
        TargetRelation relation = statements.relation();
        Values old = values(relation, delete.old());
        if (relation.fullIdentity()) {
            queue(new PendingRow(statements, statements.deleteOneMatching(old.present), old.parameters(), null, PendingRow.Kind.MUST_FIND_ROW, old.bytes));
            return;
        }
        requireKey(relation, "DELETE");
        queue(new PendingRow(statements, statements.deleteByKey(), keyParameters(relation, old), keyOf(relation, old), PendingRow.Kind.MUST_FIND_ROW, old.bytes));
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
            batch.flush();
            try (Statement s = target.createStatement()) {
                s.execute(sql);
            }
            uncommittedChanges++;
            markOpened();
        } catch (SQLException e) {
            throw failure("TRUNCATE " + String.join(", ", names), e);
        }
    }

    /** A source transaction is complete; its end LSN is recorded with the next target commit. */
    public void endSourceTransaction(Lsn endLsn) {
        completedEnd = Optional.of(endLsn);
        uncommittedTransactions++;
        markOpened();
    }

    /** Whether anything (rows or completed source transactions) awaits a target commit. */
    public boolean hasUncommittedWork() {
        return uncommittedTransactions > 0 || uncommittedChanges > 0;
    }

    public long uncommittedChanges() {
        return uncommittedChanges;
    }

    /** How long the open target transaction has been collecting work. */
    public long openNanos() {
        return hasUncommittedWork() ? System.nanoTime() - openedNanos : 0;
    }

    /**
     * Executes what is queued and commits it with the end LSN of the last completed source transaction. Call only
     * between source transactions. Returns that LSN: it may now be confirmed to the source.
     */
    public Optional<Lsn> commit() {
        try {
            batch.flush();
            if (completedEnd.isPresent()) state.recordApplied(target, completedEnd.get());
            target.commit();
        } catch (SQLException e) {
            throw failure("committing applied changes", e);
        }
        changesApplied += uncommittedChanges;
        transactionsApplied += uncommittedTransactions;
        targetCommits++;
        uncommittedChanges = 0;
        uncommittedTransactions = 0;
        return completedEnd;
    }

    /** Drops uncommitted work (the stream will deliver it again). */
    public void rollback() {
        batch.clear();
        uncommittedChanges = 0;
        uncommittedTransactions = 0;
        completedEnd = Optional.empty();
        try {
            target.rollback();
        } catch (SQLException e) {
            log.debug("rollback failed on a connection that is going away", e);
        }
    }

    public long changesApplied() { return changesApplied; }

    public long transactionsApplied() { return transactionsApplied; }

    /** Target transactions committed: fewer than source transactions when batching pays. */
    public long targetCommits() { return targetCommits; }

    /** Queued upserts that a later upsert of the same key replaced before they ran. */
    public long coalesced() { return batch.coalesced(); }

    /** Inserted rows written by COPY because many came together (backlogs, big transactions). */
    public long copied() { return batch.copied(); }

    /** NaN/Infinity values written as NULL per table (--numeric-nan-inf null). */
    public Map<QualifiedName, Long> nanInfNulled() { return Map.copyOf(nanInfNulled); }

    @Override
    public void close() {
        batch.close();
    }

    private void queue(PendingRow row) {
        batch.add(row);
        uncommittedChanges++;
        markOpened();
        if (batch.rows() >= FLUSH_ROWS || batch.bytes() >= FLUSH_BYTES) {
            try {
                batch.flush();
            } catch (SQLException e) {
                throw failure("applying changes", e);
            }
        }
    }

    private void markOpened() {
        if (uncommittedChanges + uncommittedTransactions == 1) openedNanos = System.nanoTime();
    }

    private RowStatements statements(int relationId) {
        RowStatements statements = relations.get(relationId);
        if (statements == null) {
            throw new IllegalStateException("change for relation id " + relationId + " before its RELATION message");
        }
        return statements;
    }

    private static void requireKey(TargetRelation relation, String what) {
        if (!relation.hasKey()) {
            throw new FerryException("the stream carries an " + what + " for " + relation.name() + ", which has no tuple identifier.",
                    "without a primary key or replica identity the row to change cannot be found.",
                    "on the source: ALTER TABLE " + relation.name() + " REPLICA IDENTITY FULL; then restart the migration.");
        }
    }

    /** A tuple's values as text parameters, with the columns it carries (unchanged TOAST values are left out). */
    private record Values(BitSet present, List<String> values, long bytes) {
        String[] parameters() {
            return values.toArray(new String[0]);
        }
    }

    private Values values(TargetRelation relation, Tuple tuple) {
        BitSet present = new BitSet();
        List<String> values = new ArrayList<>(tuple.values().size());
        long bytes = 0;
        for (int i = 0; i < tuple.values().size(); i++) {
            TupleValue value = tuple.values().get(i);
            // The target computes its generated columns: the source's value is neither written nor needed to find a row.
            if (value instanceof TupleValue.UnchangedToast || relation.generated()[i]) continue;
            present.set(i);
            if (value instanceof TupleValue.Null) {
                values.add(null);
            } else if (value instanceof TupleValue.Text text) {
                String v = text.value();
                if (relation.numeric()[i] && numericNanInf == NumericNanInf.NULL && isNanOrInfinity(v)) {
                    nanInfNulled.merge(relation.name(), 1L, Long::sum);
                    v = null;
                }
                values.add(v);
                bytes += v == null ? 0 : v.length();
            } else {
                throw new IllegalStateException("unexpected " + value + " in " + relation.name() + ": ferry streams text-format tuples");
            }
        }
        return new Values(present, values, bytes);
    }

    private static boolean isNanOrInfinity(String numeric) {
        return numeric.equals("NaN") || numeric.equals("Infinity") || numeric.equals("-Infinity");
    }

    private static boolean sameKey(TargetRelation relation, Values old, Values next) {
        for (int column : relation.key()) {
            if (!old.present.get(column) || !next.present.get(column)) continue;
            if (!Objects.equals(valueAt(old, column), valueAt(next, column))) return false;
        }
        return true;
    }

    private static String valueAt(Values values, int column) {
        // values only holds present columns, in column order
        int position = values.present.get(0, column).cardinality();
        return values.values.get(position);
    }

    private static String[] keyParameters(TargetRelation relation, Values values) {
        String[] key = new String[relation.key().length];
        for (int i = 0; i < key.length; i++) key[i] = valueAt(values, relation.key()[i]);
        return key;
    }

    /** The row's key values as one string: NUL cannot occur in PostgreSQL text, so it separates them unambiguously. */
    private static String keyOf(TargetRelation relation, Values values) {
        StringBuilder key = new StringBuilder();
        for (int column : relation.key()) {
            String value = valueAt(values, column);
            key.append(value == null ? "\u0001" : value).append('\u0000');
        }
        return key.toString();
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private FerryException failure(String what, SQLException e) {
        // Row changes (JDBC batches included) fail inside TargetWriter, which names their table.
        SQLException cause = e;
        if (e instanceof TargetWriter.RelationFailure failure) {
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
