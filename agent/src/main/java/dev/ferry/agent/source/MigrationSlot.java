package dev.ferry.agent.source;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.replication.slot.CreatedSlot;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.slot.SlotState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;

/**
 * The migration's logical replication slot on the source, from its creation to its drop: made before the copy, required
 * on every resume, dropped at the cutover or by --restart-copy; and the temporary slot a re-copy after a crash reads
 * its snapshot from. Used by the agent's main thread.
 */
public final class MigrationSlot {
    private static final Logger log = LoggerFactory.getLogger("ferry");

    private final Database source;
    private final SlotName name;

    public MigrationSlot(MigrationConfig config, Database source) {
        this.source = source;
        this.name = new SlotName(config.slotName());
    }

    public SlotName name() { return name; }

    /** Creates the slot and exports its snapshot, which lives only as long as {@code replication} stays open. */
    public CreatedSlot create(Connection replication, int sourceMajor) throws SQLException {
        CreatedSlot created = ReplicationSlots.create(replication, name, false, sourceMajor);
        log.info("created slot {} at {} with snapshot {}", name, created.consistentPoint(), created.snapshotName());
        return created;
    }

    /**
     * A temporary slot, gone with {@code replication}: a re-copy after a crash reads its snapshot, and its consistent
     * point tells the stream which changes of the re-copied tables that copy already holds.
     */
    public CreatedSlot createForRecopy(Connection replication, int sourceMajor) throws SQLException {
        return ReplicationSlots.create(replication, new SlotName(name + "_resync"), true, sourceMajor);
    }

    public boolean exists(Connection src) throws SQLException {
        return ReplicationSlots.exists(src, name);
    }

    /** Drops the slot if it is there; {@code wait} is how long a session still reading it may take to let go. */
    public void drop(Connection src, Duration wait) throws SQLException {
        if (ReplicationSlots.exists(src, name)) ReplicationSlots.drop(src, name, wait);
    }

    /** A new migration: drops a slot that an attempt which never recorded any state left, unless something reads it. */
    public void dropLeftover(Connection src) throws SQLException {
        Optional<SlotState> existing = ReplicationSlots.describe(src, name);
        if (existing.isEmpty()) return;
        if (existing.get().active()) {
            throw new FerryException("replication slot " + name + " already exists on the source and is in use.",
                    "another ferry (or a subscriber) is reading it; ferry will not take it over.",
                    "stop the other process, or pass --slot with another name.", ExitCode.BAD_INPUT, null);
        }
        log.warn("dropping slot {}, left on the source by an attempt that never recorded any state on the target", name);
        ReplicationSlots.drop(src, name, Duration.ofSeconds(10));
    }

    /** Fails, saying how to start over, when the slot is gone or invalidated: the changes since the start are lost. */
    public void require() throws SQLException {
        try (Connection src = source.open()) {
            require(src);
        }
    }

    /** Like {@link #require()}, on an open source session. */
    public void require(Connection src) throws SQLException {
        Optional<SlotState> slotState = ReplicationSlots.describe(src, name);
        if (slotState.isEmpty() || slotState.get().walStatus().filter("lost"::equals).isPresent()) {
            throw new FerryException("replication slot " + name + " is " + (slotState.isEmpty() ? "gone from the source." : "invalidated (wal_status lost)."),
                    "the changes made since the migration started can no longer be read, so the target cannot be brought up to date.",
                    "start the copy again: run the same `ferry run` with --restart-copy. It empties the tables ferry copied into (and no other),"
                            + " removes its state, slot and publications, and migrates again from a new snapshot. To avoid invalidation, raise"
                            + " max_slot_wal_keep_size on the source (or set it to -1).", ExitCode.FAILED, null);
        }
    }
}
