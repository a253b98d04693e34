package dev.ferry.agent.snapshot;

import com.zaxxer.hikari.HikariDataSource;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.schema.ChunkLayout;
import dev.ferry.agent.schema.EarlyAggregateRefreshes;
import dev.ferry.agent.schema.EarlyIndexBuilds;
import dev.ferry.agent.schema.SchemaCopy;
import dev.ferry.agent.source.MigrationSlot;
import dev.ferry.agent.source.ReplicationConnections;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.CreatedSlot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The copy phase around {@link SnapshotCopy}'s workers, for {@link SnapshotStage}: copies tables inside a slot's exported snapshot while the
 * schema stage builds each one's indexes as soon as it is copied; after a crash, copies again what the interrupted
 * copy had not finished and tells the stream from which LSN on each re-copied table's changes are new. Used by the
 * agent's main thread.
 */
final class CopyInSnapshot {
    private static final Logger log = LoggerFactory.getLogger("ferry");

    private final MigrationConfig config;
    private final Database source;
    private final Database target;
    private final HikariDataSource pool;
    private final StateStore state;
    private final MigrationMetrics metrics;
    private final SchemaCopy schema;
    private final MigrationSlot slot;

    CopyInSnapshot(MigrationConfig config, Database source, Database target, HikariDataSource pool, StateStore state,
                   MigrationMetrics metrics, SchemaCopy schema, MigrationSlot slot) {
        this.config = config;
        this.source = source;
        this.target = target;
        this.pool = pool;
        this.state = state;
        this.metrics = metrics;
        this.schema = schema;
        this.slot = slot;
    }

    /** Work done on the target while the copy workers log in; it may fail, as SQL does. */
    interface SqlAction {
        void run() throws SQLException;
    }

    /**
     * Copies {@code tables} in the slot's snapshot, building each one's indexes as soon as it is copied. The copy
     * workers log in and import the snapshot while {@code tablesFirst} (which must leave the tables on the target)
     * runs.
     */
    void copy(List<PhysicalTable> tables, CreatedSlot created, int sourceMajor, SqlAction tablesFirst) throws SQLException {
        EarlyIndexBuilds indexes = earlyIndexBuilds() ? schema.startIndexBuilds() : null;
        // An aggregate's refresh starts with its hypertable's index builds, not after them: the key (ADD PRIMARY KEY,
        // ACCESS EXCLUSIVE) then waits for the refresh, but both overlap the rest of the copy longer. Measured on the
        // bench's timescale shape: 2.3 s (0.5-3.0) after the copy's last row against 4.0 s (3.7-5.0) with the refresh
        // after the keys, three runs each.
        EarlyAggregateRefreshes aggregates = earlyIndexBuilds() ? schema.startAggregateRefreshes() : null;
        boolean copied = false;
        try {
            SnapshotCopy.Run copy = new SnapshotCopy(config, source, pool, state, metrics)
                    .start(tables, created.snapshotName(), created.consistentPoint(), sourceMajor, new CopyListener() {
                        @Override
                        public void tableCopied(QualifiedName table) {
                            if (indexes != null) indexes.tableCopied(table);
                            if (aggregates != null) aggregates.tableCopied(table);
                        }

                        @Override
                        public void copiedBefore(QualifiedName table, int units, String boundary) {
                            if (aggregates != null) aggregates.copiedBefore(table, units, boundary);
                        }
                    });
            try {
                tablesFirst.run();
            } catch (SQLException | RuntimeException e) {
                copy.abandon();
                throw e;
            }
            copy.tablesReady();
            copy.await();
            // The copy workers' target connections make room for the builds that take their place.
            pool.getHikariPoolMXBean().softEvictConnections();
            copied = true;
        } finally {
            if (indexes != null) indexes.finish();
            if (aggregates != null && !copied) aggregates.close();
        }
        if (aggregates != null) aggregates.finish();
    }


    /**
     * The snapshot of the first attempt died with its connection, so tables not fully copied, and those foreign keys join
     * them to ({@link ForeignKeyGroups}), are emptied and copied again in a new snapshot, from a temporary slot whose consistent point tells the stream which of their changes
     * that copy already holds.
     */
    void recopyUnfinished(List<SourceTable> tables, int sourceMajor) throws SQLException {
        Map<QualifiedName, Lsn> copied;
        List<PhysicalTable> redo = new ArrayList<>();
        List<PhysicalTable> complete = new ArrayList<>();
        try (Connection dst = target.open()) {
            copied = state.copiedTables(dst);
            Set<SourceTable> unfinished = new HashSet<>();
            for (SourceTable table : tables) {
                if (!table.physical().stream().allMatch(p -> copied.containsKey(p.name()))) unfinished.add(table);
            }
            Set<SourceTable> again;
            try (Connection src = source.open()) {
                again = ForeignKeyGroups.expand(src, tables, unfinished);
            }
            for (SourceTable table : tables) {
                if (!again.contains(table)) {
                    complete.addAll(table.physical());
                    continue;
                }
                // A partition tree is copied again whole so all its leaves share one sync LSN with its root; tables joined
                // to it by foreign keys too, so post-data's keys hold between rows of one snapshot.
                for (PhysicalTable leaf : table.physical()) {
                    try (Statement s = dst.createStatement()) {
                        s.execute("TRUNCATE " + (leaf.hypertable() ? "" : "ONLY ") + config.schemaMap().target(leaf.name())); // a hypertable with its chunks
                    }
                    state.forgetTable(dst, leaf.name());
                    redo.add(leaf);
                }
            }
            if (redo.stream().anyMatch(PhysicalTable::hypertable)) {
                try (Connection src = source.open()) {
                    ChunkLayout.recreate(src, dst, config.tables()); // the truncation dropped the chunks made with the source's ranges
                }
            }
        }
        finishIndexesOf(complete);
        if (redo.isEmpty()) return;
        log.info("copying {} tables again that the interrupted copy had not finished: {}", redo.size(),
                redo.stream().map(p -> p.name().toString()).collect(Collectors.joining(", ")));
        try (Connection replication = ReplicationConnections.open(source)) {
            copy(redo, slot.createForRecopy(replication, sourceMajor), sourceMajor, () -> {});
        }
    }

    /**
     * The interrupted copy finished these tables, but maybe not their index builds: builds what is missing, and
     * attaches a key whose index was built just before the crash (post-data alone would fail on its name).
     */
    private void finishIndexesOf(List<PhysicalTable> copiedBefore) {
        if (!earlyIndexBuilds() || copiedBefore.isEmpty()) return;
        EarlyIndexBuilds indexes = schema.startIndexBuilds();
        try {
            for (PhysicalTable table : copiedBefore) indexes.tableCopied(table.name());
        } finally {
            indexes.finish();
        }
    }

    /**
     * Sync LSN per published relation, where it is later than the main slot's start: a partition tree is copied again
     * whole, so its root and every leaf (the stream names each leaf) get the latest of its leaves'.
     */
    Map<QualifiedName, Lsn> syncLsns(List<SourceTable> tables, Lsn consistentLsn) throws SQLException {
        Map<QualifiedName, Lsn> copied;
        try (Connection dst = pool.getConnection()) {
            copied = state.copiedTables(dst);
        }
        Map<QualifiedName, Lsn> sync = new HashMap<>();
        for (SourceTable table : tables) {
            Lsn latest = consistentLsn;
            for (PhysicalTable leaf : table.physical()) latest = Lsn.max(latest, copied.getOrDefault(leaf.name(), consistentLsn));
            if (!latest.isAfter(consistentLsn)) continue;
            sync.put(table.name(), latest);
            for (PhysicalTable leaf : table.physical()) sync.put(leaf.name(), latest);
        }
        return sync;
    }

    /**
     * With --schema-map post-data builds every index: the early builds read the source's definitions, which name its
     * schemas, as do the continuous aggregates' (made after the copy then).
     */
    private boolean earlyIndexBuilds() {
        return config.schemaMode() == MigrationConfig.SchemaMode.COPY && config.schemaMap().isEmpty();
    }
}
