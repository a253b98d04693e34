package dev.ferry.agent.snapshot;

import com.zaxxer.hikari.HikariDataSource;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.schema.ContinuousAggregates;
import dev.ferry.agent.schema.SchemaCopy;
import dev.ferry.agent.schema.TimescaleJobs;
import dev.ferry.agent.source.MigrationSlot;
import dev.ferry.agent.source.Publications;
import dev.ferry.agent.source.ReplicationConnections;
import dev.ferry.agent.state.AgentIdentity;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.MigrationState.Phase;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.CreatedSlot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The phases from the slot to the stream: schema, copy in the slot's snapshot, post-data, for a new migration or one
 * a crash cut short. Ends with the migration in the stream phase and returns the sync LSNs the stream needs. Used by
 * the agent's main thread.
 */
public final class SnapshotStage {
    private static final Logger log = LoggerFactory.getLogger("ferry");

    private final MigrationConfig config;
    private final Database source;
    private final Database target;
    private final HikariDataSource pool;
    private final StateStore state;
    private final MigrationMetrics metrics;
    private final SchemaCopy schema;
    private final MigrationSlot slot;
    private final Consumer<Phase> phaseEntered;
    private final CopyInSnapshot copy;

    /** @param phaseEntered told of each phase once the state records it */
    public SnapshotStage(MigrationConfig config, Database source, Database target, HikariDataSource pool, StateStore state,
                         MigrationMetrics metrics, SchemaCopy schema, MigrationSlot slot, Consumer<Phase> phaseEntered) {
        this.config = config;
        this.source = source;
        this.target = target;
        this.pool = pool;
        this.state = state;
        this.metrics = metrics;
        this.schema = schema;
        this.slot = slot;
        this.phaseEntered = phaseEntered;
        this.copy = new CopyInSnapshot(config, source, target, pool, state, metrics, schema, slot);
    }

    /**
     * Readies the source for a new migration, in the session that read its catalog: a missing or too old pg_dump is
     * refused first (bad input, before anything is created there), then the publications are made, before the slot
     * that uses them, and a slot left by a start that recorded no state is dropped.
     */
    public void prepareSource(Connection src, List<SourceTable> tables, int sourceMajor) throws SQLException {
        if (config.schemaMode() == MigrationConfig.SchemaMode.COPY) {
            schema.checkTools(sourceMajor);
            schema.startEarlyExtension();
        }
        new Publications(config).create(src, tables);
        slot.dropLeftover(src);
    }

    /**
     * A new migration: slot with exported snapshot, schema, copy inside that snapshot, post-data. {@code begun} runs
     * once the migration's state is on the target, recording {@code agent} as its agent.
     */
    public Map<QualifiedName, Lsn> start(List<SourceTable> tables, int sourceMajor, AgentIdentity agent, Runnable begun) throws SQLException {
        try (Connection dst = pool.getConnection()) {
            state.install(dst);
        }
        // The replication connection must stay open while pg_dump and every copy worker use its snapshot.
        try (Connection replication = ReplicationConnections.open(source)) {
            CreatedSlot created = slot.create(replication, sourceMajor);
            try (Connection dst = pool.getConnection()) {
                state.begin(dst, config.slotName(), source.spec().masked(), created.consistentPoint());
                state.recordAgent(dst, agent);
                begun.run();
            }
            try {
                copy.copy(physical(tables), created, sourceMajor, () -> {
                    if (copiesSchema()) {
                        schema.copyPreData(Optional.of(created.snapshotName()));
                        schema.startPostDataDump(created.snapshotName(), sourceMajor);
                    }
                    setPhase(Phase.COPY);
                });
            } finally {
                schema.awaitPostDataDump();
            }
        }
        finishCopy(tables);
        return Map.of();
    }

    /**
     * Picks up after a crash: redo the schema if it was cut short, copy again what was not fully copied. The caller has
     * checked the slot ({@link MigrationSlot#require(Connection)}).
     */
    public Map<QualifiedName, Lsn> resume(MigrationState current, List<SourceTable> tables, int sourceMajor) throws SQLException {
        log.info("resuming the migration with slot {} in phase {} (applied up to {})", current.slotName(), current.phase().text(), current.appliedLsn());
        metrics.phase(current.phase().text()); // /status and the container's healthcheck show where the resumed run is
        if (copiesSchema() && current.phase().compareTo(Phase.STREAM) < 0) schema.checkTools(sourceMajor);
        Phase phase = current.phase();
        if (phase == Phase.SCHEMA) {
            if (copiesSchema()) schema.copyPreData(Optional.empty());
            setPhase(Phase.COPY);
            phase = Phase.COPY;
        }
        if (phase == Phase.COPY) {
            copy.recopyUnfinished(tables, sourceMajor);
            finishCopy(tables);
        } else if (phase == Phase.POST_DATA) {
            finishCopy(tables);
        }
        return copy.syncLsns(tables, current.consistentLsn());
    }

    /** Post-data, then the stream phase; planner statistics are gathered in the background meanwhile. */
    private void finishCopy(List<SourceTable> tables) throws SQLException {
        setPhase(Phase.POST_DATA);
        if (copiesSchema()) schema.copyPostData();
        try (Connection src = source.open(); Connection dst = target.open()) {
            // Large objects travel outside logical decoding: copied now, so the cutover only compares them and copies what changed.
            new LargeObjects(LoggerFactory.getLogger("ferry.snapshot")).sync(src, dst);
            // After the indexes: chunks compressed on the source end compressed on the target too.
            ChunkCompression.compress(src, target, physical(tables), config.jobs());
            ContinuousAggregates.create(src, dst);
            // Paused until the cutover: a compression or retention job on the target must not race the stream.
            TimescaleJobs.createPaused(src, dst);
        }
        setPhase(Phase.STREAM);
        TargetStatistics.analyzeInBackground(target, tables, config.schemaMap());
    }

    /** Through the pool: a connection kept from the copy costs no new login on the way from one phase to the next. */
    private void setPhase(Phase phase) throws SQLException {
        try (Connection dst = pool.getConnection()) {
            state.setPhase(dst, phase);
        }
        phaseEntered.accept(phase);
        metrics.phase(phase.text());
        log.info("phase: {}", phase.text());
    }

    private boolean copiesSchema() {
        return config.schemaMode() == MigrationConfig.SchemaMode.COPY;
    }

    private static List<PhysicalTable> physical(List<SourceTable> tables) {
        return tables.stream().flatMap(t -> t.physical().stream()).toList();
    }
}
