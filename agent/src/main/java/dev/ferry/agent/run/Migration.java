package dev.ferry.agent.run;

import com.zaxxer.hikari.HikariDataSource;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.cutover.CutoverStage;
import dev.ferry.agent.db.ConnectionFailures;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.Reconnection;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.db.TargetPool;
import dev.ferry.agent.drift.NewTables;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.metrics.StatusServer;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.preflight.Preflight;
import dev.ferry.agent.schema.SchemaCopy;
import dev.ferry.agent.snapshot.ChunksChangedDuringCopy;
import dev.ferry.agent.snapshot.CopyRestart;
import dev.ferry.agent.snapshot.SnapshotStage;
import dev.ferry.agent.source.MigrationSlot;
import dev.ferry.agent.source.Publications;
import dev.ferry.agent.state.AgentIdentity;
import dev.ferry.agent.state.AgentRecords;
import dev.ferry.agent.state.AgentLock;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.MigrationState.Phase;
import dev.ferry.agent.state.StateStore;
import dev.ferry.agent.stream.Drained;
import dev.ferry.agent.stream.StreamLost;
import dev.ferry.agent.stream.StreamStage;
import dev.ferry.replication.Lsn;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One `ferry run`: preflight, schema, snapshot copy, stream, cutover, in that order, resuming from whatever phase
 * ferry's state on the target records. Safe to start again after any crash with the same configuration. Each phase's
 * work is its stage's; this class keeps their order and what passes from one to the next.
 */
public final class Migration {
    private static final Logger log = LoggerFactory.getLogger("ferry");
    /** How often a run copies a hypertable again by itself after compression on the source changed its chunks. */
    private static final int MAX_COPIES_AGAIN = 5;

    private final MigrationConfig config;
    private final Database source;
    private final Database target;
    private final StateStore state;
    private final AgentRecords records;
    private final MigrationSlot slot;
    private final MigrationMetrics metrics = new MigrationMetrics();
    private final Reconnection reconnection;
    /** Whether this migration's state is on the target: from then on a lost connection is waited out, not fatal. */
    private volatile boolean stateRecorded;
    private volatile Phase phase = Phase.SCHEMA;
    /** --restart-copy emptied the tables of an earlier attempt: the target holds them, empty, and is still ferry's. */
    private boolean copyRestarted;

    public Migration(MigrationConfig config) {
        this.config = config;
        this.source = new Database(config.source(), "source");
        this.target = new Database(config.target(), "target");
        this.state = new StateStore(config.stateSchema());
        this.records = new AgentRecords(state);
        this.slot = new MigrationSlot(config, source);
        this.reconnection = new Reconnection(source, target);
    }

    /**
     * Runs until the cutover is done; returns the summary. Holds the migration's {@link AgentLock} from its first
     * moment to its last, so `ferry cutover` can tell a starting agent from a dead one and a second agent refuses.
     */
    public String run() throws SQLException {
        return run(false);
    }

    /**
     * Like {@link #run()}; with {@code restartCopy} (`ferry run --restart-copy`), first gives up the migration's
     * slot, state and the rows ferry copied ({@link CopyRestart}), so the migration starts over.
     */
    public String run(boolean restartCopy) throws SQLException {
        log.debug("configuration: {}", config.describe());
        try (AgentLock lock = AgentLock.acquire(target, AgentIdentity.current(), config.stateSchema())) {
            if (restartCopy) copyRestarted = new CopyRestart(config, source, target).reset();
            int copiesAgain = 0;
            while (true) {
                try {
                    return runHolding(lock.identity());
                } catch (ChunksChangedDuringCopy changed) {
                    // Compression on the source changed chunks the copy had not read: resuming copies that hypertable again.
                    if (!stateRecorded || ++copiesAgain > MAX_COPIES_AGAIN) {
                        records.recordStop(target, changed);
                        throw changed;
                    }
                    log.warn("{}", changed.describe());
                } catch (SQLException | RuntimeException e) {
                    // Before the state exists a lost connection is reported like any bad input; after, the run resumes
                    // from the state as a restarted agent would, without a person having to start it again.
                    if (stateRecorded && ConnectionFailures.isTransient(e)) {
                        metrics.streamError();
                        reconnection.await("the " + phase.text() + " phase", e);
                        continue;
                    }
                    records.recordStop(target, e);
                    throw e;
                }
            }
        }
    }

    private String runHolding(AgentIdentity agent) throws SQLException {
        // The pool opens no connection by itself: its first one is the claim's, and serves the resume's next steps too.
        try (HikariDataSource pool = TargetPool.open(target, config.jobs())) {
            Optional<MigrationState> existing = records.claim(pool, config.slotName(), agent);
            existing.filter(resumed -> resumed.phase() != Phase.DONE).ifPresent(resumed -> {
                stateRecorded = true;
                phase = resumed.phase();
            });
            if (existing.isPresent() && existing.get().phase() == Phase.DONE) return new CutoverStage(config, source, target, state).finished(existing.get());
            if (existing.isEmpty()) new Preflight(config).require(copyRestarted);
            return migrate(pool, existing, agent);
        }
    }

    private String migrate(HikariDataSource pool, Optional<MigrationState> existing, AgentIdentity agent) throws SQLException {
        try (StatusServer status = config.metricsPort() > 0 ? new StatusServer(config.metricsPort(), metrics) : null) {
            int sourceMajor;
            List<SourceTable> tables;
            SnapshotStage snapshot = new SnapshotStage(config, source, target, pool, state, metrics, new SchemaCopy(config), slot, entered -> phase = entered);
            // One session for what the start asks of the source before the copy or the stream.
            try (Connection src = source.open()) {
                sourceMajor = Database.majorVersion(src);
                tables = new SourceCatalog().read(src, config.tables());
                if (existing.isEmpty()) snapshot.prepareSource(src, tables, sourceMajor);
                else slot.require(src);
            }
            Map<QualifiedName, Lsn> syncLsns = existing.isEmpty()
                    ? snapshot.start(tables, sourceMajor, agent, () -> stateRecorded = true)
                    : snapshot.resume(existing.get(), tables, sourceMajor);
            return streamUntilCutover(pool, tables, sourceMajor, syncLsns);
        }
    }

    private String streamUntilCutover(HikariDataSource pool, List<SourceTable> tables, int sourceMajor, Map<QualifiedName, Lsn> syncLsns) throws SQLException {
        Publications.warnAboutInsertOnly(tables.stream().filter(t -> !t.identified()).toList(), "stream");
        StreamStage stream = new StreamStage(config, source, pool, state, sourceMajor, syncLsns, metrics, reconnection);
        while (true) {
            Drained drained;
            try {
                drained = stream.run(tables.stream().map(SourceTable::name).toList());
            } catch (SQLException | FerryException | StreamLost e) {
                slot.require(); // a slot dropped or invalidated under the stream: say so, and how to start over
                throw e;
            }
            // The tables at the start and those the stream followed since.
            Optional<String> summary = new CutoverStage(config, source, target, state).attempt(drained, NewTables.migrated(source, target, config, state));
            if (summary.isPresent()) return summary.get();
        }
    }
}
