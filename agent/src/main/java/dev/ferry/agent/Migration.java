package dev.ferry.agent;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.ferry.agent.apply.IdentityColumns;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.cutover.CutoverStage;
import dev.ferry.agent.cutover.LargeObjects;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.db.QualifiedName;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.metrics.StatusServer;
import dev.ferry.agent.preflight.CheckResult;
import dev.ferry.agent.preflight.Preflight;
import dev.ferry.agent.preflight.PreflightReport;
import dev.ferry.agent.schema.EarlyIndexBuilds;
import dev.ferry.agent.schema.ContinuousAggregates;
import dev.ferry.agent.schema.SchemaCopy;
import dev.ferry.agent.schema.TimescaleJobs;
import dev.ferry.agent.snapshot.ChunkCompression;
import dev.ferry.agent.snapshot.ForeignKeyGroups;
import dev.ferry.agent.snapshot.Publications;
import dev.ferry.agent.snapshot.SnapshotCopy;
import dev.ferry.agent.snapshot.TargetStatistics;
import dev.ferry.agent.state.AgentIdentity;
import dev.ferry.agent.state.AgentLock;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.MigrationState.Phase;
import dev.ferry.agent.state.StateStore;
import dev.ferry.agent.stream.StreamStage;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.slot.SlotState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * One `ferry run`: preflight, schema, snapshot copy, stream, cutover, in that order, resuming from whatever phase
 * ferry's state on the target records. Safe to start again after any crash with the same configuration.
 */
public final class Migration {
    private static final Logger log = LoggerFactory.getLogger("ferry");
    private static final String TARGET_EMPTY_CHECK = "target-empty";

    private final MigrationConfig config;
    private final Database source;
    private final Database target;
    private final StateStore state;
    private final SlotName slot;
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
        this.slot = new SlotName(config.slotName());
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
            while (true) {
                try {
                    return runHolding(lock.identity());
                } catch (SQLException | RuntimeException e) {
                    // Before the state exists a lost connection is reported like any bad input; after, the run resumes
                    // from the state as a restarted agent would, without a person having to start it again.
                    if (stateRecorded && isTransient(e)) {
                        metrics.streamError();
                        reconnection.await("the " + phase.text() + " phase", e);
                        continue;
                    }
                    recordError(e);
                    throw e;
                }
            }
        }
    }

    private String runHolding(AgentIdentity agent) throws SQLException {
        Optional<MigrationState> existing;
        try (Connection dst = target.open()) {
            existing = state.load(dst);
            if (existing.isPresent() && existing.get().slotName().equals(config.slotName()) && existing.get().phase() != Phase.DONE) {
                state.install(dst); // columns a newer ferry added to an older agent's state
                state.recordAgent(dst, agent);
                stateRecorded = true;
                phase = existing.get().phase();
            }
        }
        if (existing.isPresent() && !existing.get().slotName().equals(config.slotName())) {
            throw new FerryException("the target already holds another migration (slot " + existing.get().slotName() + ").",
                    "ferry keeps each migration's state in a schema of its own on the target (here \"" + state.schema() + "\"); this run uses slot " + config.slotName() + ".",
                    "pass --slot " + existing.get().slotName() + " to resume that migration; or, to run a second migration into this database, give each one a name with --migration.",
                    ExitCode.BAD_INPUT, null);
        }
        if (existing.isPresent() && existing.get().phase() == Phase.DONE) {
            try (Connection src = source.open()) {
                // A cutover killed after it finished on the target may have left them.
                if (ReplicationSlots.exists(src, slot)) log.warn("the cutover had finished on the target but not dropped slot {}: dropping it now", slot);
                new CutoverStage(config, source, target, state).removeFromSource(src);
            }
            log.info("this migration already finished:\n{}", existing.get().summary().orElse(""));
            return existing.get().summary().orElse("migration finished");
        }
        if (existing.isEmpty()) preflight();

        try (HikariDataSource pool = targetPool(); StatusServer status = config.metricsPort() > 0 ? new StatusServer(config.metricsPort(), metrics) : null) {
            int sourceMajor;
            List<SourceTable> tables;
            SchemaCopy schema = new SchemaCopy(config);
            try (Connection src = source.open()) {
                sourceMajor = Database.majorVersion(src);
                tables = new SourceCatalog().read(src, config.excludeTables());
                if (existing.isEmpty()) {
                    // A missing or too old pg_dump is bad input, refused before anything is created on the source.
                    if (config.schemaMode() == MigrationConfig.SchemaMode.COPY) schema.checkTools(sourceMajor);
                    prepareSource(src, tables);
                }
            }
            Map<QualifiedName, Lsn> syncLsns = existing.isEmpty()
                    ? startFresh(pool, schema, tables, sourceMajor, agent)
                    : resume(existing.get(), pool, schema, tables, sourceMajor);
            return streamUntilCutover(pool, tables, sourceMajor, syncLsns);
        }
    }

    private void preflight() {
        MDC.put("stage", "preflight");
        try {
            PreflightReport report = new Preflight(config).run();
            Set<String> accepted = new HashSet<>(config.acceptRisks());
            // The tables there are the ones the earlier attempt created and --restart-copy emptied; pre-data recreates them.
            if (copyRestarted) accepted.add(TARGET_EMPTY_CHECK);
            List<CheckResult> blocking = report.blockingFailures(accepted);
            if (!blocking.isEmpty()) {
                throw new FerryException("preflight failed: " + blocking.stream().map(CheckResult::check).collect(Collectors.joining(", "))
                        + ". Nothing was created on either server.",
                        blocking.stream().map(r -> r.check() + ": " + r.summary() + (r.why().isBlank() ? "" : " (" + r.why() + ")")).collect(Collectors.joining("\n")),
                        blocking.stream().map(r -> r.check() + ": " + r.fix()).collect(Collectors.joining("\n"))
                                + "\nthen run again (`ferry preflight` shows every check). To go ahead anyway: --accept-risk CHECK.",
                        ExitCode.PREFLIGHT_FAILED, null);
            }
        } finally {
            MDC.remove("stage");
        }
    }

    /** A new migration's publications, made in the session that read the catalog; and no slot left by a failed start. */
    private void prepareSource(Connection src, List<SourceTable> tables) throws SQLException {
        new Publications(config).create(src, tables);
        dropLeftoverSlot(src);
    }

    /** A new migration: slot with exported snapshot, schema, copy inside that snapshot, post-data. */
    private Map<QualifiedName, Lsn> startFresh(HikariDataSource pool, SchemaCopy schema, List<SourceTable> tables, int sourceMajor,
                                               AgentIdentity agent) throws SQLException {
        try (Connection dst = pool.getConnection()) {
            state.install(dst);
        }
        // The replication connection must stay open while pg_dump and every copy worker use its snapshot.
        try (Connection replication = ReplicationConnection.open(source.spec().jdbcUrl(), source.properties())) {
            CreatedSlot created = ReplicationSlots.create(replication, slot, false, sourceMajor);
            log.info("created slot {} at {} with snapshot {}", slot, created.consistentPoint(), created.snapshotName());
            try (Connection dst = pool.getConnection()) {
                state.begin(dst, config.slotName(), source.spec().masked(), created.consistentPoint());
                state.recordAgent(dst, agent);
                stateRecorded = true;
            }
            try {
                copyInSnapshot(pool, schema, physical(tables), created, sourceMajor, () -> {
                    if (config.schemaMode() == MigrationConfig.SchemaMode.COPY) {
                        schema.copyPreData(Optional.of(created.snapshotName()));
                        schema.startPostDataDump(created.snapshotName(), sourceMajor);
                    }
                    setPhase(pool, Phase.COPY);
                });
            } finally {
                schema.awaitPostDataDump();
            }
        }
        finishCopy(pool, schema, tables);
        return Map.of();
    }

    /** Picks up after a crash: redo the schema if it was cut short, copy again what was not fully copied. */
    private Map<QualifiedName, Lsn> resume(MigrationState current, HikariDataSource pool, SchemaCopy schema, List<SourceTable> tables, int sourceMajor) throws SQLException {
        log.info("resuming the migration with slot {} in phase {} (applied up to {})", current.slotName(), current.phase().text(), current.appliedLsn());
        metrics.phase(current.phase().text()); // /status and the container's healthcheck show where the resumed run is
        requireSlot();
        if (config.schemaMode() == MigrationConfig.SchemaMode.COPY && current.phase().compareTo(Phase.STREAM) < 0) schema.checkTools(sourceMajor);
        Phase phase = current.phase();
        if (phase == Phase.SCHEMA) {
            if (config.schemaMode() == MigrationConfig.SchemaMode.COPY) schema.copyPreData(Optional.empty());
            setPhase(pool, Phase.COPY);
            phase = Phase.COPY;
        }
        if (phase == Phase.COPY) {
            recopyUnfinished(pool, schema, tables, sourceMajor);
            finishCopy(pool, schema, tables);
        } else if (phase == Phase.POST_DATA) {
            finishCopy(pool, schema, tables);
        }
        return syncLsns(tables, current.consistentLsn());
    }

    /**
     * The snapshot of the first attempt died with its connection, so tables not fully copied, and those foreign keys join
     * them to ({@link ForeignKeyGroups}), are emptied and copied again in a new snapshot, from a temporary slot whose consistent point tells the stream which of their changes
     * that copy already holds.
     */
    private void recopyUnfinished(HikariDataSource pool, SchemaCopy schema, List<SourceTable> tables, int sourceMajor) throws SQLException {
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
        }
        finishIndexesOf(schema, complete);
        if (redo.isEmpty()) return;
        log.info("copying {} tables again that the interrupted copy had not finished: {}", redo.size(),
                redo.stream().map(p -> p.name().toString()).collect(Collectors.joining(", ")));
        try (Connection replication = ReplicationConnection.open(source.spec().jdbcUrl(), source.properties())) {
            CreatedSlot resync = ReplicationSlots.create(replication, new SlotName(config.slotName() + "_resync"), true, sourceMajor);
            copyInSnapshot(pool, schema, redo, resync, sourceMajor, () -> {});
        }
    }

    /**
     * The interrupted copy finished these tables, but maybe not their index builds: builds what is missing, and
     * attaches a key whose index was built just before the crash (post-data alone would fail on its name).
     */
    private void finishIndexesOf(SchemaCopy schema, List<PhysicalTable> copiedBefore) {
        if (!earlyIndexBuilds() || copiedBefore.isEmpty()) return;
        EarlyIndexBuilds indexes = schema.startIndexBuilds();
        try {
            for (PhysicalTable table : copiedBefore) indexes.tableCopied(table.name());
        } finally {
            indexes.finish();
        }
    }

    /**
     * Copies {@code tables} in the slot's snapshot, building each one's indexes as soon as it is copied. The copy
     * workers log in and import the snapshot while {@code tablesFirst} (which must leave the tables on the target)
     * runs.
     */
    private void copyInSnapshot(HikariDataSource pool, SchemaCopy schema, List<PhysicalTable> tables, CreatedSlot slot, int sourceMajor,
                                SqlAction tablesFirst) throws SQLException {
        EarlyIndexBuilds indexes = earlyIndexBuilds() ? schema.startIndexBuilds() : null;
        try {
            SnapshotCopy.Run copy = new SnapshotCopy(config, source, pool, state, metrics)
                    .start(tables, slot.snapshotName(), slot.consistentPoint(), sourceMajor, indexes == null ? table -> {} : indexes::tableCopied);
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
        } finally {
            if (indexes != null) indexes.finish();
        }
    }

    /** With --schema-map post-data builds every index: the early builds read the source's definitions, which name its schemas. */
    private boolean earlyIndexBuilds() {
        return config.schemaMode() == MigrationConfig.SchemaMode.COPY && config.schemaMap().isEmpty();
    }

    private interface SqlAction {
        void run() throws SQLException;
    }

    /** Post-data, then the stream phase; planner statistics are gathered in the background meanwhile. */
    private void finishCopy(HikariDataSource pool, SchemaCopy schema, List<SourceTable> tables) throws SQLException {
        setPhase(pool, Phase.POST_DATA);
        if (config.schemaMode() == MigrationConfig.SchemaMode.COPY) schema.copyPostData();
        try (Connection src = source.open(); Connection dst = target.open()) {
            // Large objects travel outside logical decoding: copied now, so the cutover only compares them and copies what changed.
            new LargeObjects(LoggerFactory.getLogger("ferry.snapshot")).sync(src, dst);
            // After the indexes: chunks compressed on the source end compressed on the target too.
            ChunkCompression.compress(src, target, physical(tables), config.jobs());
            ContinuousAggregates.create(src, dst);
            // Paused until the cutover: a compression or retention job on the target must not race the stream.
            TimescaleJobs.createPaused(src, dst);
        }
        setPhase(pool, Phase.STREAM);
        TargetStatistics.analyzeInBackground(target, tables, config.schemaMap());
    }

    /**
     * Sync LSN per published relation, where it is later than the main slot's start: a partition tree is copied again
     * whole, so its root and every leaf (the stream names each leaf) get the latest of its leaves'.
     */
    private Map<QualifiedName, Lsn> syncLsns(List<SourceTable> tables, Lsn consistentLsn) throws SQLException {
        Map<QualifiedName, Lsn> copied;
        try (Connection dst = target.open()) {
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

    private String streamUntilCutover(HikariDataSource pool, List<SourceTable> tables, int sourceMajor, Map<QualifiedName, Lsn> syncLsns) throws SQLException {
        Publications.warnAboutInsertOnly(tables.stream().filter(t -> !t.identified()).toList(), "stream");
        StreamStage stream = new StreamStage(config, source, pool, state, sourceMajor, syncLsns, metrics);
        while (true) {
            StreamStage.Drained drained;
            try {
                Lsn start;
                try (Connection dst = target.open()) {
                    start = state.load(dst).orElseThrow().appliedLsn();
                    IdentityColumns.relax(dst, tables.stream().map(t -> config.schemaMap().target(t.name())).toList());
                }
                drained = stream.run(start);
            } catch (SQLException | FerryException e) {
                if (!isTransient(e)) {
                    requireSlot(); // a slot dropped or invalidated under the stream: say so, and how to start over
                    throw e;
                }
                metrics.streamError();
                // NOTE: "lost a connection while streaming" is what operators grep for.
                log.warn("lost a connection while streaming; the stream resumes from the last applied transaction once both servers answer.");
                reconnection.await("the stream", e);
                continue;
            }
            try {
                return new CutoverStage(config, source, target, state).finish(drained, tables);
            } catch (FerryException refused) {
                log.error("{}", refused.describe());
                try (Connection dst = target.open()) {
                    state.failCutover(dst, refused.describe());
                }
            }
        }
    }

    /**
     * Leaves the reason this agent stops in the state, where `ferry cutover` and `ferry status` read it once no agent
     * runs. Best effort: the failure may be the target itself.
     */
    private void recordError(Exception failure) {
        String text = failure instanceof FerryException f ? f.describe() : failure.toString();
        try (Connection dst = target.open()) {
            if (state.installed(dst)) state.recordAgentError(dst, text);
        } catch (SQLException | RuntimeException e) {
            failure.addSuppressed(e);
            log.debug("could not record the agent's error in the state on the target", e);
        }
    }

    /** Connection-level failures (server restart, network drop) that a reconnect can cure, however wrapped. */
    static boolean isTransient(Exception failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.io.IOException) return true;
            if (t instanceof SQLException e) {
                String sqlState = e.getSQLState() == null ? "" : e.getSQLState();
                if (sqlState.startsWith("08") || sqlState.startsWith("57P")) return true;
            }
            if (t.getCause() == t) break;
        }
        return false;
    }

    private void dropLeftoverSlot(Connection src) throws SQLException {
        Optional<SlotState> existing = ReplicationSlots.describe(src, slot);
        if (existing.isEmpty()) return;
        if (existing.get().active()) {
            throw new FerryException("replication slot " + slot + " already exists on the source and is in use.",
                    "another ferry (or a subscriber) is reading it; ferry will not take it over.",
                    "stop the other process, or pass --slot with another name.", ExitCode.BAD_INPUT, null);
        }
        log.warn("dropping slot {}, left on the source by an attempt that never recorded any state on the target", slot);
        ReplicationSlots.drop(src, slot, Duration.ofSeconds(10));
    }

    private void requireSlot() throws SQLException {
        try (Connection src = source.open()) {
            Optional<SlotState> slotState = ReplicationSlots.describe(src, slot);
            if (slotState.isEmpty() || slotState.get().walStatus().filter("lost"::equals).isPresent()) {
                throw new FerryException("replication slot " + slot + " is " + (slotState.isEmpty() ? "gone from the source." : "invalidated (wal_status lost)."),
                        "the changes made since the migration started can no longer be read, so the target cannot be brought up to date.",
                        "start the copy again: run the same `ferry run` with --restart-copy. It empties the tables ferry copied into (and no other),"
                                + " removes its state, slot and publications, and migrates again from a new snapshot. To avoid invalidation, raise"
                                + " max_slot_wal_keep_size on the source (or set it to -1).", ExitCode.FAILED, null);
            }
        }
    }

    /** Through the pool: a connection kept from the copy costs no new login on the way from one phase to the next. */
    private void setPhase(HikariDataSource pool, Phase phase) throws SQLException {
        try (Connection dst = pool.getConnection()) {
            state.setPhase(dst, phase);
        }
        this.phase = phase;
        metrics.phase(phase.text());
        log.info("phase: {}", phase.text());
    }

    private static List<PhysicalTable> physical(List<SourceTable> tables) {
        return tables.stream().flatMap(t -> t.physical().stream()).toList();
    }

    private HikariDataSource targetPool() {
        HikariConfig hikari = new HikariConfig();
        hikari.setPoolName("ferry-target");
        hikari.setJdbcUrl(target.spec().jdbcUrl());
        hikari.setDataSourceProperties(target.properties());
        hikari.setMaximumPoolSize(config.jobs() + 4);
        hikari.setMinimumIdle(0);
        // ferry has logged in to the target already and explained any failure; Hikari's start-up check would only
        // add a login of its own, closed again at once.
        hikari.setInitializationFailTimeout(-1);
        hikari.setConnectionTimeout(30_000);
        return new HikariDataSource(hikari);
    }
}
