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

/** Creates, inspects and drops logical replication slots using the pgoutput plugin. */
public final class ReplicationSlots {
    private ReplicationSlots() {}

    /**
     * CREATE_REPLICATION_SLOT on a replication connection, exporting a snapshot. The snapshot stays importable only
     * while {@code replicationConnection} stays open and runs no other command.
     */
    public static CreatedSlot create(Connection replicationConnection, SlotName name, boolean temporary, int serverMajor) throws SQLException {
        String sql = "CREATE_REPLICATION_SLOT " + name + (temporary ? " TEMPORARY" : "") + " LOGICAL pgoutput"
                + (serverMajor >= 15 ? " (SNAPSHOT 'export')" : " EXPORT_SNAPSHOT");
        try (Statement s = replicationConnection.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            if (!rs.next()) throw new SQLException("CREATE_REPLICATION_SLOT " + name + " returned no row");
            return new CreatedSlot(name, Lsn.parse(rs.getString("consistent_point")), rs.getString("snapshot_name"));
        }
    }

    public static boolean exists(Connection regular, SlotName name) throws SQLException {
        return describe(regular, name).isPresent();
    }

    public static Optional<SlotState> describe(Connection regular, SlotName name) throws SQLException {
        boolean hasWalStatus = majorVersion(regular) >= 13;
        try (PreparedStatement s = regular.prepareStatement("SELECT plugin, database, active, restart_lsn::text, confirmed_flush_lsn::text, "
                + (hasWalStatus ? "wal_status" : "NULL::text") + " FROM pg_replication_slots WHERE slot_name = ?")) {
            s.setString(1, name.value());
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                return Optional.of(new SlotState(name, rs.getString(1), rs.getString(2), rs.getBoolean(3),
                        Optional.ofNullable(rs.getString(4)).map(Lsn::parse), Optional.ofNullable(rs.getString(5)).map(Lsn::parse),
                        Optional.ofNullable(rs.getString(6))));
            }
        }
    }

    /** Drops the slot once no process uses it, waiting up to {@code waitForInactive}; does nothing if it is gone. */
    public static void drop(Connection regular, SlotName name, Duration waitForInactive) throws SQLException {
        long deadline = System.nanoTime() + waitForInactive.toNanos();
        while (true) {
            Optional<SlotState> state = describe(regular, name);
            if (state.isEmpty()) return;
            if (!state.get().active()) {
                try (PreparedStatement s = regular.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                    s.setString(1, name.value());
                    s.execute();
                    return;
                } catch (SQLException e) {
                    // 55006: it became active again between the check and the drop; wait and retry
                    if (!"55006".equals(e.getSQLState()) || System.nanoTime() > deadline) throw e;
                }
            } else if (System.nanoTime() > deadline) {
                throw new SQLException("replication slot " + name + " is still in use after " + waitForInactive.toSeconds() + " s", "55006");
            }
            LockSupport.parkNanos(Duration.ofMillis(100).toNanos());
        }
    }

    private static int majorVersion(Connection connection) throws SQLException {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('server_version_num')::int / 10000")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
