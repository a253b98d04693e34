package dev.ferry.replication.slot;

import dev.ferry.replication.Lsn;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/** Creates, inspects and drops pgoutput logical replication slots of the current database. */
public final class ReplicationSlots {
    /** PostgreSQL's SQLSTATE for "replication slot does not exist". */
    private static final String UNDEFINED_OBJECT = "42704";
    private static final Duration DROP_POLL = Duration.ofMillis(50);

    private ReplicationSlots() {}

    /**
     * Runs CREATE_REPLICATION_SLOT for pgoutput on a {@link ReplicationConnection} and exports a snapshot.
     * The snapshot stays usable only while {@code replicationConnection} stays open and idle: the next command on
     * it (including START_REPLICATION) ends it, so copy workers must import it first.
     *
     * @param temporary   a temporary slot is dropped by the server when the connection closes or fails
     * @param serverMajor PostgreSQL 15 changed the syntax for exporting the snapshot
     */
    public static CreatedSlot create(Connection replicationConnection, SlotName name, boolean temporary, int serverMajor)
            throws SQLException {
        String export = serverMajor >= 15 ? "(SNAPSHOT 'export')" : "EXPORT_SNAPSHOT";
        String command = "CREATE_REPLICATION_SLOT " + name + (temporary ? " TEMPORARY" : "") + " LOGICAL pgoutput " + export;
        try (Statement statement = replicationConnection.createStatement();
             ResultSet rs = statement.executeQuery(command)) {
            if (!rs.next()) throw new SQLException("CREATE_REPLICATION_SLOT " + name + " returned no row");
            String snapshot = rs.getString("snapshot_name");
            if (snapshot == null) throw new SQLException("CREATE_REPLICATION_SLOT " + name + " exported no snapshot");
            return new CreatedSlot(name, Lsn.parse(rs.getString("consistent_point")), snapshot);
        }
    }

    /** Whether the slot exists in the current database, according to {@code pg_replication_slots}. */
    public static boolean exists(Connection regular, SlotName name) throws SQLException {
        return describe(regular, name).isPresent();
    }

    /** The slot's row of {@code pg_replication_slots} in the current database; empty if there is none. */
    public static Optional<SlotState> describe(Connection regular, SlotName name) throws SQLException {
        String sql = "SELECT plugin, database, active, restart_lsn::text, confirmed_flush_lsn::text, wal_status"
                + " FROM pg_replication_slots WHERE slot_name = ? AND database = current_database()";
        try (PreparedStatement statement = regular.prepareStatement(sql)) {
            statement.setString(1, name.value());
            try (ResultSet rs = statement.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                return Optional.of(new SlotState(name, rs.getString(1), rs.getString(2), rs.getBoolean(3),
                        optionalLsn(rs.getString(4)), optionalLsn(rs.getString(5)), Optional.ofNullable(rs.getString(6))));
            }
        }
    }

    private static Optional<Lsn> optionalLsn(String text) {
        return Optional.ofNullable(text).map(Lsn::parse);
    }

    /**
     * Drops the slot once no walsender uses it. A consumer that just closed its stream may still hold the slot for a
     * moment while its walsender exits, so this waits up to {@code waitForInactive} for {@code active = false}.
     * Does nothing if the slot does not exist.
     *
     * @throws SQLException if the slot stays active past the wait, naming the process holding it
     */
    public static void drop(Connection regular, SlotName name, Duration waitForInactive) throws SQLException {
        long deadline = System.nanoTime() + waitForInactive.toNanos();
        while (true) {
            Optional<SlotState> state = describe(regular, name);
            if (state.isEmpty()) return;
            if (!state.get().active()) break;
            if (System.nanoTime() > deadline) {
                throw new SQLException("replication slot " + name + " is still active after " + waitForInactive
                        + " (held by process " + activePid(regular, name) + "); stop its consumer, then drop it again");
            }
            LockSupport.parkNanos(DROP_POLL.toNanos());
        }
        try (PreparedStatement statement = regular.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
            statement.setString(1, name.value());
            statement.execute();
        } catch (SQLException e) {
            // A temporary slot can vanish between the check and the drop when its session ends.
            if (!UNDEFINED_OBJECT.equals(e.getSQLState())) throw e;
        }
    }

    private static String activePid(Connection regular, SlotName name) throws SQLException {
        try (PreparedStatement statement = regular.prepareStatement("SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?")) {
            statement.setString(1, name.value());
            try (ResultSet rs = statement.executeQuery()) {
                return rs.next() ? String.valueOf(rs.getObject(1)) : "none";
            }
        }
    }
}
