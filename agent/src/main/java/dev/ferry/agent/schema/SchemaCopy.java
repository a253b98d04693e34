package dev.ferry.agent.schema;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.tools.PgDumpTool;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Copies the schema with pg_dump and pg_restore: pre-data (types, tables, functions) before the data, post-data
 * (indexes, constraints, triggers) after it, so the copy does not maintain indexes row by row. Both halves are safe
 * to run again after an interruption. Owners, privileges and tablespaces are not copied. Called from the stage
 * runner's thread only; the one background task it starts (the post-data dump) hands its result back through a future.
 */
public final class SchemaCopy {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    private final MigrationConfig config;
    private PgDumpTool tool;
    /** Post-data dumped during the copy, in its snapshot; absent when resuming, then {@link #copyPostData()} dumps it. */
    private CompletableFuture<SchemaDump> postDataDump;
    /** TimescaleDB being made on the target ahead of the pre-data restore; null when not started. */
    private CompletableFuture<Void> earlyExtension;
    /** The table filter as pg_dump options, resolved once so both sections leave out the same objects. */
    private List<String> dumpFilter;

    public SchemaCopy(MigrationConfig config) {
        this.config = config;
    }

    /** Fails with the fix when pg_dump/pg_restore are missing or older than the source's major version. */
    public void checkTools(int sourceMajor) {
        tool = PgDumpTool.find(sourceMajor, config.pgDumpDir());
        log.info("schema: using pg_dump and pg_restore {} from {}", tool.version(), tool.pgDump().getParent());
    }

    /**
     * A new migration whose schema ferry copies: starts making TimescaleDB on the target ({@link EarlyExtension}), which
     * {@link #copyPreData} waits for. Not with --schema-map, whose pre-data is restored from a renamed scratch copy.
     */
    public void startEarlyExtension() {
        if (config.schemaMap().isEmpty()) earlyExtension = EarlyExtension.start(config);
    }

    /** Restores pre-data on the target; with a snapshot name the dump sees exactly the copy's snapshot. Safe to run again. */
    public void copyPreData(Optional<String> snapshotName) {
        long start = System.nanoTime();
        try (Connection source = new Database(config.source(), "source").open();
             Connection target = new Database(config.target(), "target").open()) {
            SchemaDump dump = new SchemaDump(config, tool(source), "pre-data", dumpFilter(source));
            dump.dump(snapshotName);
            List<TocEntry> entries = dump.entries();
            log.info("pre-data: dumped {} objects in {}{}", entries.size(), seconds(start), snapshotName.map(s -> " at snapshot " + s).orElse(""));
            Connection catalog = dump.catalog(source);
            List<TocEntry> selected;
            if (earlyExtension != null) earlyExtension.join(); // its CREATE EXTENSION must not race the restore's
            lockRestores(target);
            try {
                LeftoverRestores.end(target, "pre-data", config.slotName());
                PreDataRestore restore = new PreDataRestore(catalog, target);
                restore.refuseToDropRows(entries);
                selected = new ArrayList<>(restore.select(entries));
                // Continuous aggregates are made after the copy (ContinuousAggregates): dumped, they are views of tables not copied.
                Set<Long> aggregates = ContinuousAggregates.viewOids(catalog);
                selected.removeIf(e -> e.catalog() == TocEntry.PG_CLASS && aggregates.contains(e.oid()));
            } finally {
                dump.close(catalog);
            }
            long restoreStart = System.nanoTime();
            dump.restore(selected, PreDataRestore.options(),
                    "fix what the message names on the target (a missing extension package, a missing role, a permission), then run ferry again: "
                            + "the restore ran in one transaction, so nothing of it was left on the target (the TimescaleDB extension,"
                            + " made before it when the target had none, stays).");
            log.info("pre-data: restored {} objects into the target in {} (total {})", selected.size(), seconds(restoreStart), seconds(start));
            Hypertables.create(source, target, config.tables());
            ChunkLayout.recreate(source, target, config.tables());
            buildKeysBeforeCopy(Hypertables.withCompressedChunks(source, config.tables()));
        } catch (SQLException e) {
            throw catalogFailure("pre-data", e);
        }
    }

    /**
     * Builds the primary keys, unique constraints and unique indexes of hypertables with compressed chunks while they
     * are empty, before their copy. Built after it, TimescaleDB checks and builds a key on each compressed chunk
     * (bench timescale shape: 2.0 of the 2.5 s of metrics' primary key, for its 28 compressed chunks) while the
     * hypertable's other builds wait for its lock; built first, each chunk the copy makes gets it empty, the compressed
     * batches copied into its compressed chunk are never checked row by row (the source enforced the keys), and only
     * the few uncompressed chunks are indexed row by row. Their other indexes stay after the copy: built first, the
     * target's compressed chunks get the bloom sparse indexes TimescaleDB derives from them, a quarter more bytes to
     * copy, and the uncompressed rows are indexed once per index (measured slower, docs/benchmarks.md). A build that
     * fails here is built again after the copy, as one during the copy is.
     */
    private void buildKeysBeforeCopy(List<QualifiedName> hypertables) {
        // With --schema-map post-data builds every index (the source's definitions name its schemas).
        if (hypertables.isEmpty() || !config.schemaMap().isEmpty()) return;
        EarlyIndexBuilds builds = new EarlyIndexBuilds(config, "before the copy", true);
        try {
            hypertables.forEach(builds::tableCopied);
        } finally {
            builds.finish();
        }
    }

    /** Builds each table's indexes and keys as soon as the copy reports it done; call {@link EarlyIndexBuilds#finish()} after the copy. */
    public EarlyIndexBuilds startIndexBuilds() {
        return new EarlyIndexBuilds(config);
    }

    /**
     * Makes and refreshes each continuous aggregate as soon as the copy reports its hypertable done; call
     * {@link EarlyAggregateRefreshes#finish()} after the copy, or {@link EarlyAggregateRefreshes#close()} if it failed.
     */
    public EarlyAggregateRefreshes startAggregateRefreshes() {
        return new EarlyAggregateRefreshes(config);
    }

    /**
     * Dumps post-data in the copy's snapshot on a background thread while the copy runs, so only its restore is left
     * after the last row. Call {@link #awaitPostDataDump()} before the snapshot's connection closes: pg_dump must have
     * imported the snapshot by then.
     */
    public void startPostDataDump(String snapshotName, int sourceMajor) {
        if (tool == null) checkTools(sourceMajor);
        if (dumpFilter == null) {
            try (Connection source = new Database(config.source(), "source").open()) {
                dumpFilter(source);
            } catch (SQLException e) {
                throw catalogFailure("post-data", e);
            }
        }
        SchemaDump dump = new SchemaDump(config, tool, "post-data", dumpFilter);
        postDataDump = CompletableFuture.supplyAsync(() -> {
            dump.dump(Optional.of(snapshotName));
            return dump;
        }, task -> {
            Thread dumper = new Thread(task, "ferry-schema-dump");
            dumper.setDaemon(true);
            dumper.start();
        });
    }

    /** Waits for the dump {@link #startPostDataDump} began; a failure of it is reported by {@link #copyPostData()}. */
    public void awaitPostDataDump() {
        if (postDataDump != null) postDataDump.exceptionally(failure -> null).join();
    }

    /**
     * Builds indexes, constraints and triggers on the target after the data is in, skipping what already exists; then
     * gives early-built indexes the settings their skipped TOC entries carry, and the target database the source
     * database's settings.
     */
    public void copyPostData() {
        long start = System.nanoTime();
        try (Connection source = new Database(config.source(), "source").open();
             Connection target = new Database(config.target(), "target").open()) {
            SchemaDump dump = postDataDump(source);
            LeftoverRestores.end(target, "post-data", config.slotName());
            List<TocEntry> entries = dump.entries();
            Connection catalog = dump.catalog(source);
            try {
                copyPostData(dump, entries, source, catalog, target, start);
            } finally {
                dump.close(catalog);
            }
        } catch (SQLException e) {
            throw catalogFailure("post-data", e);
        }
    }

    /** @param catalog where the dump's OIDs and names are looked up: the source, or with --schema-map the renamed scratch database */
    private void copyPostData(SchemaDump dump, List<TocEntry> entries, Connection source, Connection catalog, Connection target, long start) throws SQLException {
        {
            // The catalog names tables as on the target; the filter, written in source names, is matched through the map.
            PostDataRestore.Selection selection = new PostDataRestore(catalog, target, config.tables(), config.schemaMap()::source).select(entries);
            log.info("post-data: dumped {} objects{}; {} to build, {} already on the target", entries.size(),
                    postDataDump != null ? " during the copy" : " in " + seconds(start), selection.restore().size(), selection.alreadyThere());
            if (!selection.restore().isEmpty()) {
                long restoreStart = System.nanoTime();
                dump.restore(selection.restore(), PostDataRestore.options(config.jobs()), IndexBuildMemory.of(target).pgRestoreEnvironment(config.jobs()),
                        "fix what the message names (for a unique index or constraint: the duplicate rows on the target), then run ferry again: "
                                + "indexes and constraints already built are kept and skipped.");
                log.info("post-data: built {} objects with {} jobs in {} (total {})", selection.restore().size(), config.jobs(),
                        seconds(restoreStart), seconds(start));
            }
            HypertableForeignKeys.create(target, HypertableForeignKeys.read(source), config.tables());
            int settings = IndexSettings.apply(catalog, target);
            if (settings > 0) log.info("post-data: {} settings of indexes built before pg_restore set (replica identity, CLUSTER ON, statistics targets)", settings);
            if (config.schemaMap().isEmpty()) {
                DatabaseSettings.apply(source, target);
            } else if (DatabaseSettings.count(source) > 0) {
                log.warn("post-data: the source database's own settings (ALTER DATABASE ... SET) are not copied with --schema-map: the target database"
                        + " is shared by the sources merged into it. Set the ones the application needs by hand; on the source,"
                        + " SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND setrole = 0; lists them.");
            }
            MaterializedViewRefresh.refresh(source, target, config.schemaMap());
        }
    }

    /** The dump made during the copy, or a new one (without a snapshot) when there was none. */
    private SchemaDump postDataDump(Connection source) throws SQLException {
        if (postDataDump != null) {
            try {
                return postDataDump.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof RuntimeException failure) throw failure;
                throw e;
            }
        }
        SchemaDump dump = new SchemaDump(config, tool(source), "post-data", dumpFilter(source));
        dump.dump(Optional.empty());
        return dump;
    }

    private List<String> dumpFilter(Connection source) throws SQLException {
        if (dumpFilter == null) dumpFilter = DumpFilter.options(source, config.tables());
        return dumpFilter;
    }

    private PgDumpTool tool(Connection source) throws SQLException {
        if (tool == null) checkTools(Database.majorVersion(source));
        return tool;
    }

    /**
     * Migrations sharing a target database (named or not) restore their pre-data one at a time: both would otherwise find an
     * extension they share missing and create it at once, and the second's CREATE EXTENSION fails on the first's.
     * Held by the session until it closes after the restore. NOTE: pg_locks shows it as advisory lock classid
     * 1717924473, objid 0, objsubid 2 (the agents' own locks use objid 1 and up).
     */
    private static void lockRestores(Connection target) throws SQLException {
        try (java.sql.Statement s = target.createStatement()) {
            s.execute("SELECT pg_advisory_lock(1717924473, 0)");
        }
    }

    private static FerryException catalogFailure(String section, SQLException e) {
        return new FerryException("could not read the catalogs while restoring " + section + ":",
                e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                "check that both servers are reachable and the users may read pg_catalog, then run ferry again.", e);
    }

    private static String seconds(long startNanos) {
        return String.format("%.1f s", (System.nanoTime() - startNanos) / 1e9);
    }
}
