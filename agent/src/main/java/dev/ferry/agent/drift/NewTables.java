package dev.ferry.agent.drift;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.IdentityColumns;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.db.TargetSession;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.schema.TableDefinition;
import dev.ferry.agent.source.Publications;
import dev.ferry.agent.snapshot.SnapshotCopy;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.agent.source.ReplicationConnections;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Follows tables the migration covers but has no copy of: tables created on the source during the stream, and
 * tables whose copy {@link ColumnDrift} forgot. Each is created on the target (its pg_dump definition) unless there,
 * added to ferry's publication, emptied on the target and copied in the snapshot of a new temporary slot. Its sync LSN
 * (the slot's consistent point) makes the stream skip the table's changes from transactions that committed before
 * it, which the copy holds; those after it are applied.
 * <p>
 * Why that converges: the table enters the publication at some LSN P, and the slot is created after that, so its
 * consistent point C follows P. A change committed before P is not published and is in the copy; one between P and C
 * is published and in the copy, and skipped; one after C is published and not in the copy, and applied. Each step is
 * idempotent (an existing table is not created again, an already published one not added again, a copy is redone
 * from an empty table), so a kill anywhere is finished by the next run, which checks before streaming anything.
 * Called by the stream thread between source transactions, with nothing uncommitted on the target.
 */
public final class NewTables {
    private static final Logger log = LoggerFactory.getLogger("ferry.stream");
    /** How often the source's catalog is read for new tables; one query of pg_class, cheap next to the stream. */
    private static final long CHECK_NANOS = Duration.ofSeconds(10).toNanos();
    private static final long RETRY_NANOS = Duration.ofSeconds(1).toNanos();

    private final MigrationConfig config;
    private final Database source;
    /** The stream's own source session, for the catalog reads: no login per check. */
    private final Connection sourceSession;
    private final DataSource target;
    private final StateStore state;
    private final int sourceMajor;
    private final MigrationMetrics metrics;
    /** Tables already reported as not followed: said once per run, when they appear. */
    private final Set<QualifiedName> reported = new HashSet<>();
    private long nextCheck = System.nanoTime();
    private boolean requested;

    /** @param sourceSession a source session of the stream thread's, in autocommit mode, with the session settings ferry gives every one */
    public NewTables(MigrationConfig config, Database source, Connection sourceSession, DataSource target, StateStore state, int sourceMajor,
                     MigrationMetrics metrics) {
        this.config = config;
        this.source = source;
        this.sourceSession = sourceSession;
        this.target = target;
        this.state = state;
        this.sourceMajor = sourceMajor;
        this.metrics = metrics;
    }

    /** A table's copy was forgotten: check at the next chance instead of the next interval. */
    public void request() {
        requested = true;
    }

    /** Never with --schema-map: the table's definition and copy would not land in its mapped schema (docs/ddl.md). */
    public boolean due() {
        if (!config.schemaMap().isEmpty()) return false;
        return requested || System.nanoTime() >= nextCheck;
    }

    /** Copies what needs a copy; returns the sync LSN of each table copied. */
    public Map<QualifiedName, Lsn> follow() throws SQLException {
        if (!config.schemaMap().isEmpty()) return Map.of();
        requested = false;
        nextCheck = System.nanoTime() + CHECK_NANOS;
        List<SourceTable> toCopy = new ArrayList<>();
        Connection src = sourceSession;
        try (Connection dst = target.getConnection()) {
            dst.setAutoCommit(true);
            Map<QualifiedName, Lsn> copied = state.copiedTables(dst);
            for (SourceTable table : covered(src)) {
                List<PhysicalTable> uncopied = table.physical().stream().filter(p -> !copied.containsKey(p.name())).toList();
                if (uncopied.isEmpty() || table.physical().isEmpty()) continue;
                if (!plain(table)) {
                    if (!table.partitioned() || uncopied.size() == table.physical().size()) {
                        report(table.name(), table.partitioned() ? "it is a partitioned table" : "it is a TimescaleDB hypertable");
                    } else if (!table.wholeTree()) {
                        for (PhysicalTable leaf : uncopied) report(leaf.name(), "it is a partition of " + table.name() + ", which ferry publishes partition by partition");
                    } else {
                        // Published through its root since it was made: the stream holds all its rows once it exists on the target.
                        for (PhysicalTable leaf : uncopied) if (!exists(dst, leaf.name())) report(leaf.name(), "the target has no partition of that name");
                    }
                    continue;
                }
                boolean onTarget = exists(dst, table.name());
                // In ferry's publication under a name the target lacks: renamed on the source, not new. Created here, it
                // would leave the old one behind; the stream's RELATION message stops with the SQL instead (ColumnDrift).
                if (!onTarget && (published(src, config.publication(), table.name()) || published(src, config.insertOnlyPublication(), table.name()))) continue;
                if (!onTarget && !create(dst, table.name())) continue;
                if (!behindTheSource(dst, table.physical().get(0))) toCopy.add(table);
            }
            if (toCopy.isEmpty()) return Map.of();
            for (SourceTable table : toCopy) publish(src, table);
            dst.setAutoCommit(false);
            TargetSession.configure(dst, "target");
            for (SourceTable table : toCopy) {
                empty(dst, table.name()); // rows of an interrupted copy, or of the table's old definition
                state.forgetTable(dst, table.name());
            }
            dst.commit();
            dst.setAutoCommit(true);
            IdentityColumns.relax(dst, toCopy.stream().map(SourceTable::name).toList());
        }
        Lsn sync = copy(toCopy.stream().map(t -> t.physical().get(0)).toList());
        Map<QualifiedName, Lsn> syncLsns = new HashMap<>();
        for (SourceTable table : toCopy) syncLsns.put(table.name(), sync);
        log.warn("now following {} (created or changed on the source during the migration): copied in a snapshot consistent with {}, streamed from there",
                toCopy.stream().map(t -> t.name().toString()).collect(Collectors.joining(", ")), sync);
        return syncLsns;
    }

    /**
     * The tables the migration covers, as the source's catalog has them now. NOTE: the one place that decides whether
     * a table made during the migration belongs to it; it takes the same filters as the start of the migration.
     */
    private List<SourceTable> covered(Connection src) throws SQLException {
        return new SourceCatalog().read(src, config.tables());
    }

    /** Tables ferry copies on their own during the stream; partition trees and hypertables are copied whole at the start only. */
    private static boolean plain(SourceTable table) {
        return !table.partitioned() && table.physical().size() == 1 && !table.physical().get(0).hypertable();
    }

    /** Creates the table on the target with --schema copy; otherwise says so. Returns whether it exists now. */
    private boolean create(Connection dst, QualifiedName table) throws SQLException {
        if (config.schemaMode() != MigrationConfig.SchemaMode.COPY) {
            report(table, "the target has no table of that name, and with --schema " + config.schemaMode().name().toLowerCase() + " ferry leaves the schema to you."
                    + " Create it on the target (pg_dump --schema-only -t '" + table + "' | psql): ferry then follows it within 10 s");
            return false;
        }
        String script = TableDefinition.dump(config, sourceMajor, table);
        // One transaction: the table with its keys and indexes, or nothing; a kill in between leaves nothing to trip over.
        dst.setAutoCommit(false);
        try (Statement s = dst.createStatement()) {
            s.execute(script);
            dst.commit();
        } catch (SQLException e) {
            dst.rollback();
            throw new FerryException("could not create " + table + " on the target, which was created on the source during the migration: " + e.getMessage(),
                    "ferry creates such a table from its pg_dump definition (SQLSTATE " + e.getSQLState() + ").",
                    "create it on the target by hand (pg_dump --schema-only -t '" + table + "' source | psql target), then run `ferry run` again.", e);
        } finally {
            // pg_dump's script sets search_path to '' for the session
            try (Statement s = dst.createStatement()) {
                s.execute("RESET ALL");
            }
            dst.setAutoCommit(true);
        }
        log.warn("created {} on the target: it was created on the source during the migration", table);
        return true;
    }

    /**
     * Adds the table to ferry's publication unless it is in already. A table without a replica identity goes to the
     * insert-only one: published for UPDATE and DELETE, it would make the source refuse the application's.
     */
    private void publish(Connection src, SourceTable table) throws SQLException {
        String publication = table.identified() ? config.publication() : config.insertOnlyPublication();
        if (!table.identified()) Publications.warnAboutInsertOnly(List.of(table), "stream");
        if (published(src, publication, table.name())) return;
        try (Statement s = src.createStatement()) {
            s.execute("ALTER PUBLICATION " + QualifiedName.quote(publication) + " ADD TABLE ONLY " + table.name());
        } catch (SQLException e) {
            if (!"42710".equals(e.getSQLState())) throw e; // already a member: a concurrent or earlier add
        }
        log.info("added {} to publication {}", table.name(), QualifiedName.quote(publication));
    }

    private static boolean published(Connection src, String publication, QualifiedName table) throws SQLException {
        try (PreparedStatement s = src.prepareStatement("SELECT 1 FROM pg_publication_tables WHERE pubname = ? AND schemaname = ? AND tablename = ?")) {
            s.setString(1, publication);
            s.setString(2, table.schema());
            s.setString(3, table.name());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * Empties a table about to be copied. TRUNCATE refuses a table other tables refer to by a foreign key (whatever
     * session_replication_role says); such a table's rows are deleted instead, with the keys' triggers not firing,
     * so the referring rows stay and find their rows again in the copy.
     */
    private static void empty(Connection dst, QualifiedName table) throws SQLException {
        boolean referenced;
        try (PreparedStatement s = dst.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = to_regclass(?))")) {
            s.setString(1, table.toString());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                referenced = rs.getBoolean(1);
            }
        }
        try (Statement s = dst.createStatement()) {
            s.execute((referenced ? "DELETE FROM ONLY " : "TRUNCATE ONLY ") + table);
        }
    }

    /** Copies the tables in the snapshot of a temporary slot; returns its consistent point. */
    private Lsn copy(List<PhysicalTable> tables) throws SQLException {
        // The replication connection must stay open while the copy workers use its snapshot.
        try (Connection replication = ReplicationConnections.open(source)) {
            CreatedSlot slot = ReplicationSlots.create(replication, new SlotName(config.slotName() + "_resync"), true, sourceMajor);
            SnapshotCopy.Run copy = new SnapshotCopy(config, source, target, state, metrics, false).start(tables, slot.snapshotName(), slot.consistentPoint(), sourceMajor, t -> {});
            copy.tablesReady();
            copy.await();
            return slot.consistentPoint();
        }
    }

    /**
     * The copy's snapshot is newer than the stream: where the source has columns the stream has not announced yet,
     * the target lacks them and the copy would fail. The copy then waits (a second at a time) until the stream's
     * RELATION messages have brought them (ColumnDrift).
     */
    private boolean behindTheSource(Connection dst, PhysicalTable table) throws SQLException {
        try (PreparedStatement s = dst.prepareStatement("""
                SELECT count(*) FROM unnest(?::text[]) c(name)
                WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass(?) AND a.attname = c.name AND NOT a.attisdropped)""")) {
            s.setArray(1, dst.createArrayOf("text", table.columns().toArray()));
            s.setString(2, table.name().toString());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                if (rs.getLong(1) == 0) return false;
            }
        }
        log.debug("the copy of {} waits for the stream to add the source's newer columns on the target", table.name());
        nextCheck = Math.min(nextCheck, System.nanoTime() + RETRY_NANOS);
        return true;
    }

    private static boolean exists(Connection dst, QualifiedName table) throws SQLException {
        try (PreparedStatement s = dst.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            s.setString(1, table.toString());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private void report(QualifiedName table, String reason) {
        if (!reported.add(table)) return;
        // NOTE: operators grep stream.log for "not followed".
        log.warn("table {} appeared on the source during the migration and is not followed: {}. To migrate it: after the cutover, with the application"
                        + " stopped, pg_dump -t '{}' the source | psql the target; or run `ferry run --restart-copy` to migrate everything again with it.",
                table, reason, table);
    }

    /**
     * The tables this migration holds now: those of the catalog with a copy of at least one of their relations (a
     * partition tree may have grown one since). What the cutover compares.
     */
    public static List<SourceTable> migrated(Database source, Database target, MigrationConfig config, StateStore state) throws SQLException {
        try (Connection src = source.open(); Connection dst = target.open()) {
            Map<QualifiedName, Lsn> copied = state.copiedTables(dst);
            return new SourceCatalog().read(src, config.tables()).stream()
                    .filter(t -> t.physical().stream().anyMatch(p -> copied.containsKey(p.name()))).toList();
        }
    }
}
