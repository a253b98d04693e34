package dev.ferry.agent.snapshot;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.source.MigrationSlot;
import dev.ferry.agent.source.Publications;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * `ferry run --restart-copy`: gives up a migration whose slot was lost (dropped by someone, or invalidated by
 * max_slot_wal_keep_size) so the next run starts over with a new slot and a new copy. It empties only the tables
 * ferry's own state records it copied into (ferry.copy_plan and ferry.copy_progress), in one TRUNCATE without CASCADE,
 * so a table ferry never wrote to, or one that another table refers to by a foreign key, is never touched; and removes
 * the old slot, ferry's publications and ferry's state. The target's schema stays. Idempotent: a crash halfway is
 * finished by running it again. Runs on the agent's main thread while it holds the migration's lock.
 */
public final class CopyRestart {
    private static final Logger log = LoggerFactory.getLogger("ferry");

    private final MigrationConfig config;
    private final Database source;
    private final Database target;

    public CopyRestart(MigrationConfig config, Database source, Database target) {
        this.config = config;
        this.source = source;
        this.target = target;
    }

    /** Returns whether there was a migration to give up (its tables, if any, are left empty on the target). */
    public boolean reset() throws SQLException {
        StateStore state = new StateStore(config.stateSchema());
        Optional<MigrationState> current;
        List<QualifiedName> copied;
        try (Connection dst = target.open()) {
            current = state.load(dst);
            if (current.isEmpty()) {
                log.info("--restart-copy: no migration state on the target {}; starting as a new migration", target.spec().masked());
                return false;
            }
            if (!current.get().slotName().equals(config.slotName())) {
                throw new FerryException("--restart-copy refused: the target holds another migration (slot " + current.get().slotName() + ").",
                        "this run uses slot " + config.slotName() + "; ferry will not empty tables another migration copied.",
                        "pass --slot " + current.get().slotName() + " to restart that migration's copy. Nothing was changed.", ExitCode.BAD_INPUT, null);
            }
            if (current.get().phase() == MigrationState.Phase.DONE) {
                throw new FerryException("--restart-copy refused: this migration finished its cutover.",
                        "the target is now the application's database; emptying its tables would lose rows written since.",
                        "leave it as it is. Nothing was changed.", ExitCode.BAD_INPUT, null);
            }
            copied = state.tablesPlannedOrCopied(dst, config.schemaMap()::target);
        }
        dropSlotAndPublications();
        try (Connection dst = target.open()) {
            dst.setAutoCommit(false);
            try (Statement s = dst.createStatement()) {
                // One transaction: the tables are empty and the state gone together, or neither.
                if (config.schemaMode() == MigrationConfig.SchemaMode.COPY) dropForeignKeysAmong(dst, copied);
                if (!copied.isEmpty()) s.execute("TRUNCATE ONLY " + copied.stream().map(QualifiedName::toString).collect(Collectors.joining(", ")));
                state.remove(dst);
                dst.commit();
            } catch (SQLException e) {
                dst.rollback();
                throw new FerryException("--restart-copy could not empty the tables ferry copied on the target " + target.spec().masked() + ":",
                        e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                        "a foreign key from a table ferry did not copy refers to one of them, or a session holds a lock on them; "
                                + "fix that, then run `ferry run --restart-copy` again. Nothing on the target was changed.", ExitCode.FAILED, e);
            }
        }
        log.warn("--restart-copy: emptied {} tables ferry had copied ({}), removed slot {}, its publications and ferry's state; the migration starts over",
                copied.size(), copied.stream().map(QualifiedName::toString).collect(Collectors.joining(", ")), config.slotName());
        return true;
    }

    /**
     * With --schema copy, ferry made these tables and their foreign keys (post-data); pre-data, restored again with
     * --clean, drops and recreates the tables but knows nothing of post-data, so a key between two of them would stop
     * it. Only keys whose both ends are ferry's tables (or their partition roots) are dropped; post-data adds them again.
     */
    private static void dropForeignKeysAmong(Connection dst, List<QualifiedName> copied) throws SQLException {
        List<String> drops = new ArrayList<>();
        try (PreparedStatement s = dst.prepareStatement("""
                WITH copied AS (SELECT to_regclass(name) AS oid FROM unnest(?::text[]) AS name),
                ferrys AS (SELECT oid FROM copied WHERE oid IS NOT NULL
                           UNION SELECT pg_partition_ancestors(oid) FROM copied WHERE oid IS NOT NULL)
                SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname)
                FROM pg_constraint c
                WHERE c.contype = 'f' AND c.conparentid = 0
                  AND c.conrelid IN (SELECT oid FROM ferrys) AND c.confrelid IN (SELECT oid FROM ferrys)""")) {
            s.setArray(1, dst.createArrayOf("text", copied.stream().map(QualifiedName::toString).toArray()));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) drops.add(rs.getString(1));
            }
        }
        try (Statement s = dst.createStatement()) {
            for (String drop : drops) s.execute(drop);
        }
        if (!drops.isEmpty()) log.info("--restart-copy: dropped {} foreign keys between ferry's tables; post-data creates them again", drops.size());
    }

    private void dropSlotAndPublications() throws SQLException {
        try (Connection src = source.open()) {
            new MigrationSlot(config, source).drop(src, Duration.ofSeconds(10));
            new Publications(config).drop(src);
        }
    }
}
