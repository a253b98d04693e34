package dev.ferry.agent.db;

import dev.ferry.replication.Lsn;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/** Where the source's WAL stands, as a position the stream can reach once it has applied everything before it. */
public final class WalPosition {
    private WalPosition() {}

    /**
     * The WAL insert position, not pg_current_wal_lsn(): that is only the write position, which lags transactions
     * already committed when the source runs with synchronous_commit = off. Taken back to the page boundary when it
     * points just past a page header, where the stream could never get to on an idle source.
     */
    public static Lsn current(Connection source) throws SQLException {
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int,"
                     + " pg_size_bytes(current_setting('wal_segment_size'))")) {
            rs.next();
            return Lsn.parse(rs.getString(1)).withoutPageHeader(rs.getInt(2), rs.getLong(3));
        }
    }

    /**
     * The source's write position and what a slot holds back: {@code retainedBytes} is the WAL between the slot's
     * restart_lsn and that position, absent when the slot does not exist.
     */
    public record SlotRetention(Lsn current, Optional<Long> retainedBytes) {}

    public static SlotRetention slot(Connection source, String slotName) throws SQLException {
        try (PreparedStatement s = source.prepareStatement("SELECT pg_current_wal_lsn()::text,"
                + " (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = ?)")) {
            s.setString(1, slotName);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                long retained = rs.getLong(2);
                return new SlotRetention(Lsn.parse(rs.getString(1)), rs.wasNull() ? Optional.empty() : Optional.of(retained));
            }
        }
    }
}
